/*
 * The hooks the CLI lends a job (cli.h): progress lines on stderr
 * ("\rLABEL: 42% 118.3 MB/s", a few per second), warnings and notes, and
 * the stop flag that the signal handler sets.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

/* Set by the handler, read by the job through hooks.stop. */
static volatile sig_atomic_t cli_caught_signal;

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_progress(void *opaque, const char *stage, uint64_t done, uint64_t total)
{
	struct cli_hooks *ch = opaque;
	if (!ch->progress_enabled)
		return;
	double now = cli_now();
	if (now - ch->last < 0.2 && done < total)
		return;
	ch->last = now;
	double secs = now - ch->start;
	fprintf(stderr, "\r%s: %3.0f%%  %.1f MB/s ", stage,
		total ? 100.0 * (double)done / (double)total : 100.0,
		secs > 0 ? (double)done / 1e6 / secs : 0.0);
	fflush(stderr);
	ch->progress_shown = 1;
}

/* The code goes last, in brackets: stable for scripts to grep, out of
 * the way of the sentence. */
static void on_warn(void *opaque, const char *code, const char *msg)
{
	cli_hooks_end(opaque);
	if (code && *code)
		fprintf(stderr, "boxwright: warning: %s [%s]\n", msg, code);
	else
		fprintf(stderr, "boxwright: warning: %s\n", msg);
}

static void on_note(void *opaque, const char *msg)
{
	cli_hooks_end(opaque);
	fprintf(stderr, "boxwright: %s\n", msg);
}

int cli_stop_requested(void)
{
	return cli_caught_signal != 0;
}

static int on_stop(void *opaque)
{
	(void)opaque;
	return cli_stop_requested();
}

void cli_hooks_init(struct cli_hooks *ch, int mode)
{
	memset(ch, 0, sizeof *ch);
	ch->progress_enabled = mode > 0 || (mode == 0 && isatty(STDERR_FILENO));
	ch->start = ch->last = cli_now();
	ch->hooks = (struct bw_job_hooks){ .progress = on_progress, .warn = on_warn,
					   .note = on_note, .stop = on_stop, .opaque = ch };
	cli_signals_install();
}

void cli_hooks_end(struct cli_hooks *ch)
{
	if (ch->progress_shown)
		fputc('\n', stderr);
	ch->progress_shown = 0;
}

static void on_signal(int sig)
{
	if (cli_caught_signal) {
		/* A second signal: the user means it. */
		signal(sig, SIG_DFL);
		raise(sig);
	}
	cli_caught_signal = sig;
}

void cli_signals_install(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

void cli_exit_signalled(void)
{
	int sig = cli_caught_signal;
	if (!sig)
		return;
	signal(sig, SIG_DFL);
	raise(sig);
}
