/*
 * boxwright batch MANIFEST [-j N] [--index I]: run build/patch jobs from a
 * JSON Lines manifest, one job per line:
 *   {"command":"build","input":"a.vhd","output":"a.box","options":["--winrm","--size","8G"]}
 * Each job is this same program run as a child process (its own address
 * space: one failing or crashing job cannot take the others down), N at a
 * time; each result is one JSON line on stdout.  With --index I, or else
 * JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID
 * (a Slurm array job), only job I runs: the job runner is the scheduler.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "boxwright/box.h"
#include "cli/cli.h"
#include "cli/json.h"


static const char batch_usage[] =
	"Usage: boxwright batch MANIFEST [-j N] [--index I]\n"
	"Run build and patch jobs from a JSON Lines manifest, one job per line:\n"
	"  {\"command\":\"build\",\"input\":\"a.vhd\",\"output\":\"a.box\",\"options\":[\"--winrm\"]}\n"
	"A relative input or output is taken from the manifest's directory.  Each\n"
	"result is printed as one JSON line (index, status, exit, seconds, output\n"
	"size, sha256).\n"
	"\n"
	"  -j, --jobs N     run N jobs at a time (default 1: each job deflates on all CPUs)\n"
	"  --index I        run only job I (0-based); default: $JOB_COMPLETION_INDEX\n"
	"                   (Kubernetes Indexed Job) or $SLURM_ARRAY_TASK_ID (Slurm array)\n"
	"  -h, --help       this help\n"
	"\n"
	"Exit status: 0 all jobs done, 1 some job failed, 2 usage, 3 bad manifest.\n";

struct job {
	int index;
	const struct bw_manifest_entry *e;     /* the manifest's */
	pid_t pid;
	double start;
	char out_path[PATH_MAX], err_path[PATH_MAX];
};

static int job_start(struct job *j, const char *self, const char *dir, struct bw_error *err)
{
	if ((size_t)snprintf(j->out_path, sizeof j->out_path, "%s/job%d.out", dir, j->index) >= sizeof j->out_path ||
	    (size_t)snprintf(j->err_path, sizeof j->err_path, "%s/job%d.err", dir, j->index) >= sizeof j->err_path)
		return bw_seterr(err, BW_EIO, dir, "temporary path too long");
	size_t argc = 0;
	char **argv = calloc(j->e->noptions + 10, sizeof *argv);
	if (!argv)
		return bw_seterr(err, BW_ENOMEM, NULL, "out of memory");
	argv[argc++] = (char *)self;
	argv[argc++] = j->e->command;
	argv[argc++] = j->e->input;
	argv[argc++] = (char *)"-o";
	argv[argc++] = j->e->output;
	for (size_t i = 0; i < j->e->noptions; i++)
		argv[argc++] = j->e->options[i];
	argv[argc++] = (char *)"--quiet";
	argv[argc++] = (char *)"--json";
	argv[argc] = NULL;
	fflush(NULL);
	j->start = cli_now();
	pid_t pid = fork();
	if (pid < 0) {
		free(argv);
		return bw_seterr(err, BW_EIO, NULL, "cannot fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int fo = open(j->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(j->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
			_exit(127);
		execv(self, argv);
		dprintf(2, "boxwright: cannot run %s: %s\n", self, strerror(errno));
		_exit(127);
	}
	free(argv);
	j->pid = pid;
	return 0;
}

/* The child's error: the first line of FILE that is not a warning (the
 * error comes first; a usage error's "Try ..." hint follows it), else its
 * first line, or "". */
static void error_line(const char *file, char *out, size_t n)
{
	out[0] = '\0';
	FILE *f = fopen(file, "r");
	if (!f)
		return;
	char line[2048];
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '\n')
			continue;
		int warning = !strncmp(line, "boxwright: warning:", 19);
		if (!out[0] || !warning) {
			snprintf(out, n, "%s", line);
			if (!warning)
				break;
		}
	}
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* A build of several providers writes one box each (NAME-PROVIDER.box),
 * named in its --json summary (the child's stdout): each box's path,
 * size and sha256 as "boxes". */
static void report_boxes(struct json *jj, const char *out_path)
{
	json_error_t je;
	json_t *root = json_load_file(out_path, 0, &je);
	json_t *boxes = json_object_get(root, "boxes");
	if (json_array_size(boxes) > 1) {
		json_key(jj, "boxes");
		json_arr_begin(jj);
		for (size_t k = 0; k < json_array_size(boxes); k++) {
			const json_t *b = json_array_get(boxes, k);
			const char *path = json_string_value(json_object_get(b, "box"));
			struct stat st;
			char sha[65];
			struct bw_error e;
			json_obj_begin(jj);
			json_kstr(jj, "provider", json_string_value(json_object_get(b, "provider")));
			json_kstr(jj, "output", path);
			json_ku64(jj, "output_size", path && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
			json_kstr(jj, "sha256", path && bw_sha256_file(path, sha, &e) == 0 ? sha : NULL);
			json_obj_end(jj);
		}
		json_arr_end(jj);
	}
	json_decref(root);
}

static int job_report(struct job *j, int status)
{
	double secs = cli_now() - j->start;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	struct json jj;
	json_init(&jj, stdout);
	json_obj_begin(&jj);
	json_ki64(&jj, "index", j->index);
	json_kstr(&jj, "command", j->e->command);
	json_kstr(&jj, "input", j->e->input);
	json_kstr(&jj, "output", j->e->output);
	json_kstr(&jj, "status", code == 0 ? "ok" : "error");
	json_ki64(&jj, "exit", code);
	json_kdouble(&jj, "seconds", secs, 3);
	if (code == 0) {
		struct stat st;
		char sha[65];
		struct bw_error e;
		json_ku64(&jj, "output_size", stat(j->e->output, &st) == 0 ? (uint64_t)st.st_size : 0);
		json_kstr(&jj, "sha256", bw_sha256_file(j->e->output, sha, &e) == 0 ? sha : NULL);
		if (!strcmp(j->e->command, "build"))
			report_boxes(&jj, j->out_path);
	} else {
		char msg[2048];
		error_line(j->err_path, msg, sizeof msg);
		if (!WIFEXITED(status))
			snprintf(msg, sizeof msg, "killed by signal %d", WTERMSIG(status));
		json_kstr(&jj, "error", msg);
	}
	json_obj_end(&jj);
	fflush(stdout);
	unlink(j->out_path);
	unlink(j->err_path);
	return code == 0 ? 0 : 1;
}

int cmd_batch(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "index", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long par = 1, index = -1;
	char *end;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			par = strtol(optarg, &end, 10);
			if (*end || par < 1 || par > 256)
				return cli_usage_error("batch", "-j takes 1..256, not '%s'", optarg);
			break;
		case 'i':
			index = strtol(optarg, &end, 10);
			if (*end || index < 0 || index >= BW_MANIFEST_MAX_JOBS)
				return cli_usage_error("batch", "--index takes a job number, not '%s'", optarg);
			break;
		case 'h': fputs(batch_usage, stdout); return EXIT_DONE;
		default:
			return cli_usage_error("batch", "unknown option or missing value '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("batch", "one MANIFEST expected");
	const char *envs[] = { "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID" };
	for (size_t i = 0; index < 0 && i < 2; i++) {
		const char *e = getenv(envs[i]);
		if (e && *e) {
			index = strtol(e, &end, 10);
			if (*end || index < 0)
				return cli_usage_error("batch", "%s='%s' is not a job number", envs[i], e);
		}
	}
	struct bw_error err;
	bw_error_clear(&err);
	struct bw_manifest *mf = NULL;
	struct job *jobs = NULL;
	int njobs = 0, r = bw_manifest_read(argv[optind], &mf, &err);
	if (r == 0 && !(jobs = calloc(mf->n ? mf->n : 1, sizeof *jobs)))
		r = bw_seterr(&err, BW_ENOMEM, argv[optind], "out of memory");
	for (size_t i = 0; r == 0 && i < mf->n; i++)
		jobs[njobs++] = (struct job){ .index = (int)i, .e = &mf->entries[i] };
	if (r == 0 && index >= njobs)
		r = bw_seterr(&err, BW_EINVAL, argv[optind], "job %ld asked for, the manifest has %d", index, njobs);
	/* The children's stdout and stderr, until each is reported. */
	char dir[PATH_MAX] = "";
	if (r == 0) {
		const char *base = getenv("TMPDIR");
		snprintf(dir, sizeof dir, "%s/boxwright-batch.XXXXXX", base && *base ? base : "/tmp");
		if (!mkdtemp(dir)) {
			r = bw_seterr(&err, BW_EIO, dir, "cannot create a temporary directory: %s", strerror(errno));
			dir[0] = '\0';
		}
	}
	cli_signals_install();
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0)
		self[n] = '\0';
	else
		snprintf(self, sizeof self, "%s", "boxwright");
	int forwarded = 0;
	int failed = 0, running = 0, next = index >= 0 ? (int)index : 0;
	int last = index >= 0 ? (int)index + 1 : njobs;
	while (r == 0 && (next < last || running > 0)) {
		if (cli_stop_requested() && !forwarded) {
			/* Start no more; the running jobs stop and clean up
			 * as they would on their own signal. */
			next = last;
			forwarded = 1;
			for (int i = 0; i < njobs; i++)
				if (jobs[i].pid > 0)
					kill(jobs[i].pid, SIGTERM);
		}
		if (next < last && running < par) {
			r = job_start(&jobs[next++], self, dir, &err);
			running += r == 0;
			continue;
		}
		int status;
		pid_t pid = wait(&status);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			r = bw_seterr(&err, BW_EIO, NULL, "wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < njobs; i++)
			if (jobs[i].pid == pid) {
				failed += job_report(&jobs[i], status);
				jobs[i].pid = 0;
				running--;
			}
	}
	free(jobs);
	bw_manifest_free(mf);
	if (dir[0])
		rmdir(dir);
	cli_exit_signalled();
	if (r)
		return r == BW_EINVAL ? cli_usage_error("batch", "%s", err.msg) : cli_fail(&err);
	return failed ? EXIT_FAILED : EXIT_DONE;
}
