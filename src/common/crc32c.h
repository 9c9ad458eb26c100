/*
 * CRC-32C (Castagnoli), the one home for it: VHDX checksums its headers,
 * region tables and log entries with it (MS-VHDX 2.2.2), not with zlib's
 * CRC-32.
 */
#ifndef BW_COMMON_CRC32C_H
#define BW_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue CRC (0 to start) over LEN bytes at BUF, zlib style: the
 * pre- and post-inversion are done here, so that
 * bw_crc32c(bw_crc32c(0, a, n), b, m) is the CRC of a followed by b.
 * "123456789" gives 0xE3069283.
 */
uint32_t bw_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
