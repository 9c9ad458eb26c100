/* Build a Vagrant box through the job library: boxwright build IN -o OUT --winrm. */
#include <stdio.h>
#include <boxwright/job.h>

static void warn(void *opaque, const char *code, const char *msg)
{
	(void)opaque;
	fprintf(stderr, "warning (%s): %s\n", code, msg);
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return fprintf(stderr, "usage: %s IMAGE OUT.box\n", argv[0]), 2;
	struct bw_build_opts o = { .input = argv[1], .output = argv[2], .edits = { .winrm = 1 } };
	struct bw_job_hooks hooks = { .warn = warn };
	struct bw_build_result res;
	struct bw_error err;
	if (bw_build(&o, &hooks, &res, &err) != 0)
		return fprintf(stderr, "%s\n", err.msg), bw_exit_status(err.code);
	printf("%s: %llu bytes, hardware UUID %s\n", argv[2], (unsigned long long)res.box_size,
	       res.hardware_uuid);
	return 0;
}
