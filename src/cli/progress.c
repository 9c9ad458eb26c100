/* Progress lines on stderr: "\rLABEL: 42% 118.3 MB/s", a few per second. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_progress_init(struct cli_progress *p, const char *label, int mode)
{
	p->enabled = mode > 0 || (mode == 0 && isatty(STDERR_FILENO));
	p->label = label;
	p->start = p->last = cli_now();
}

void cli_progress_update(void *opaque, uint64_t done, uint64_t total)
{
	struct cli_progress *p = opaque;
	if (!p->enabled)
		return;
	double now = cli_now();
	if (now - p->last < 0.2 && done < total)
		return;
	p->last = now;
	double secs = now - p->start;
	fprintf(stderr, "\r%s: %3.0f%%  %.1f MB/s ", p->label,
		total ? 100.0 * (double)done / (double)total : 100.0,
		secs > 0 ? (double)done / 1e6 / secs : 0.0);
	fflush(stderr);
}

void cli_progress_end(struct cli_progress *p)
{
	if (p->enabled)
		fputc('\n', stderr);
}
