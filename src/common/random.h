/*
 * Random bytes for identities (disk signatures, UUIDs, VHD and VMDK ids):
 * they must differ between images, not resist an attacker.  getentropy
 * is in glibc (2.25+) and macOS (10.12+); getrandom is Linux-only.
 */
#ifndef BW_COMMON_RANDOM_H
#define BW_COMMON_RANDOM_H

#include <stddef.h>

/* Fill BUF with LEN random bytes: 0, or -1 with errno set. */
int bw_random_bytes(void *buf, size_t len);

#endif
