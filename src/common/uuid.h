/*
 * UUIDs as text (RFC 4122 8-4-4-4-12 lowercase hex): one home for every
 * module that draws or checks one (box identities, build's hardware UUID).
 * No libuuid: its uuid_generate falls back to a weak PRNG when the system
 * has no entropy, and boxwright must fail instead.
 */
#ifndef BW_COMMON_UUID_H
#define BW_COMMON_UUID_H

/* A random version-4 UUID into OUT: 0, or -1 (errno set) when the system
 * gives no random bytes. */
int bw_uuid_random(char out[37]);

/* Check S (any letter case, not all zero) and write it lowercase into
 * OUT: 1 when valid, 0 when not (OUT is then undefined). */
int bw_uuid_parse(const char *s, char out[37]);

#endif
