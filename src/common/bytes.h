/*
 * Unaligned little/big-endian field access on file bytes (libdeflate's
 * get_unaligned_le32 idea).  On-disk structures are never cast to structs.
 */
#ifndef BW_COMMON_BYTES_H
#define BW_COMMON_BYTES_H

#include <stdint.h>

static inline uint16_t bw_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static inline uint32_t bw_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static inline uint64_t bw_get_le64(const uint8_t *p)
{
	return (uint64_t)bw_get_le32(p) | (uint64_t)bw_get_le32(p + 4) << 32;
}
static inline uint16_t bw_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}
static inline uint32_t bw_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}
static inline uint64_t bw_get_be64(const uint8_t *p)
{
	return (uint64_t)bw_get_be32(p) << 32 | bw_get_be32(p + 4);
}
static inline void bw_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
}
static inline void bw_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline void bw_put_le64(uint8_t *p, uint64_t v)
{
	bw_put_le32(p, (uint32_t)v); bw_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline void bw_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void bw_put_be64(uint8_t *p, uint64_t v)
{
	bw_put_be32(p, (uint32_t)(v >> 32)); bw_put_be32(p + 4, (uint32_t)v);
}

#endif
