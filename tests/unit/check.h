/*
 * A minimal assertion harness for the unit tests: CHECK counts every
 * assertion and failure, and check_done() reports and sets the exit status
 * automake's test driver reads (0 pass, 1 fail).  A test that checks
 * nothing fails: that is a defect, not a pass.
 */
#ifndef BW_TESTS_CHECK_H
#define BW_TESTS_CHECK_H

#include <stdio.h>

static int check_total, check_failed;

#define CHECK(cond)                                                        \
	do {                                                               \
		check_total++;                                             \
		if (!(cond)) {                                             \
			check_failed++;                                    \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
		}                                                          \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                 \
	do {                                                               \
		unsigned long long va_ = (unsigned long long)(a),          \
				   vb_ = (unsigned long long)(b);          \
		check_total++;                                             \
		if (va_ != vb_) {                                          \
			check_failed++;                                    \
			fprintf(stderr, "%s:%d: %s == %s failed: %llu != %llu\n", \
				__FILE__, __LINE__, #a, #b, va_, vb_);     \
		}                                                          \
	} while (0)

static inline int check_done(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_total, check_failed);
	if (check_total == 0) {
		fprintf(stderr, "%s: no checks ran\n", name);
		return 1;
	}
	return check_failed ? 1 : 0;
}

#endif
