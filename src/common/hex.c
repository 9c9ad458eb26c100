/* Bytes to hex digits (hex.h). */
#include "boxwright/error.h"
#include "common/hex.h"

int bw_hex_encode(const uint8_t *in, size_t n, char *out, size_t outn)
{
	static const char digits[] = "0123456789abcdef";
	if (outn == 0)
		return BW_EINVAL;
	size_t fit = (outn - 1) / 2;    /* whole bytes that fit with the NUL */
	size_t k = n < fit ? n : fit;
	for (size_t i = 0; i < k; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xF];
	}
	out[2 * k] = '\0';
	return k == n ? 0 : BW_EINVAL;
}
