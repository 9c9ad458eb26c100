/*
 * Early writeback of a file being written in order and synced at its end
 * (an output before its rename, the working partition before ntfsresize
 * opens it): every BW_WRITEBACK_STEP bytes, ask the kernel to start
 * writing what came so far, without waiting.  The disk then works while
 * the data is still being produced, and the closing fsync, which still
 * reports every error, finds little left to do.  Only a hint: Linux's
 * sync_file_range; elsewhere nothing (the fsync does it all).
 */
#ifndef BW_COMMON_WRITEBACK_H
#define BW_COMMON_WRITEBACK_H

#include <stdint.h>

#define BW_WRITEBACK_STEP (UINT64_C(32) << 20)

/* The file FD is written up to offset UPTO; *DONE is where the previous
 * hint ended (0 at first). */
void bw_writeback_hint(int fd, uint64_t *done, uint64_t upto);

#endif
