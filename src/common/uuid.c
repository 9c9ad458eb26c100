/* UUID text (uuid.h). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/random.h"
#include "common/uuid.h"
#include "common/hex.h"

int bw_uuid_random(char out[37])
{
	uint8_t u[16];
	if (bw_random_bytes(u, sizeof u) != 0)
		return -1;
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);   /* version 4 (RFC 4122 4.4) */
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);   /* variant 10x */
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

int bw_uuid_parse(const char *s, char out[37])
{
	if (!s || strlen(s) != 36)
		return 0;
	int nonzero = 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
			out[i] = '-';
			continue;
		}
		int v = bw_hex_digit(s[i]);
		if (v < 0)
			return 0;
		nonzero |= v;
		out[i] = "0123456789abcdef"[v];
	}
	out[36] = '\0';
	return nonzero != 0;
}
