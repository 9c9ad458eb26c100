/* Derived identities (derive.h). */
#include <stdio.h>
#include <string.h>

#include <nettle/sha2.h>

#include "common/bytes.h"
#include "common/derive.h"

void bw_derive_bytes(const uint8_t seed[BW_DERIVE_SEED_LEN], const char *label,
		     void *out, size_t len)
{
	uint8_t *dst = out;
	for (uint32_t block = 0; len > 0; block++) {
		struct sha256_ctx ctx;
		uint8_t ctr[4], digest[SHA256_DIGEST_SIZE];
		bw_put_be32(ctr, block);
		sha256_init(&ctx);
		sha256_update(&ctx, BW_DERIVE_SEED_LEN, seed);
		/* the NUL ends the label: "a" + block 1 is not "a\1" */
		sha256_update(&ctx, strlen(label) + 1, (const uint8_t *)label);
		sha256_update(&ctx, sizeof ctr, ctr);
		sha256_digest(&ctx, sizeof digest, digest);
		size_t n = len < sizeof digest ? len : sizeof digest;
		memcpy(dst, digest, n);
		dst += n;
		len -= n;
	}
}

void bw_derive_uuid(const uint8_t seed[BW_DERIVE_SEED_LEN], const char *label,
		    char out[37])
{
	uint8_t u[16];
	bw_derive_bytes(seed, label, u, sizeof u);
	u[6] = (uint8_t)((u[6] & 0x0F) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3F) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}
