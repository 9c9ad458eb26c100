/* Early writeback hints (writeback.h). */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE         /* sync_file_range */
#endif
#include <fcntl.h>

#include "common/writeback.h"

void bw_writeback_hint(int fd, uint64_t *done, uint64_t upto)
{
	if (upto <= *done || upto - *done < BW_WRITEBACK_STEP)
		return;
#ifdef SYNC_FILE_RANGE_WRITE
	/* Its errors are the fsync's to report: ignored here. */
	(void)sync_file_range(fd, (off_t)*done, (off_t)(upto - *done), SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;
#endif
	*done = upto;
}
