/*
 * Identities derived from a seed instead of drawn at random: reproducible
 * builds (DESIGN.md "Credentials and identity").  The seed is a SHA-256
 * of a job's inputs; each identity is named by a LABEL ("vmdk-cid",
 * "sam-salt", ...), so two identities of one build never share bytes and
 * the same label of the same seed always gives the same bytes.
 */
#ifndef BW_COMMON_DERIVE_H
#define BW_COMMON_DERIVE_H

#include <stddef.h>
#include <stdint.h>

#define BW_DERIVE_SEED_LEN 32

/* LEN bytes: SHA-256(SEED || LABEL || 0x00 || be32 block) for blocks
 * 0, 1, ... concatenated (a counter-mode expansion; nettle's SHA-256). */
void bw_derive_bytes(const uint8_t seed[BW_DERIVE_SEED_LEN], const char *label,
		     void *out, size_t len);

/* A UUID in text, from bw_derive_bytes with the RFC 4122 version-4 and
 * variant bits set as a random one has them: tools that check the
 * version (VirtualBox does not) see an ordinary UUID. */
void bw_derive_uuid(const uint8_t seed[BW_DERIVE_SEED_LEN], const char *label,
		    char out[37]);

#endif
