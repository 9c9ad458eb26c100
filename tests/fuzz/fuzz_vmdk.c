/*
 * libFuzzer harness for the VMDK reader (src/disk/vmdk.c): inputs that
 * probe as VMDK (sparse header "KDMV", COWD, or a text descriptor) are
 * opened and read through bw_disk; others are skipped so that the fuzzer
 * does not spend its time in the raw driver.  Seeds: make-seeds.py.
 */
#include <string.h>

#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4 || (memcmp(data, "KDMV", 4) && memcmp(data, "COWD", 4) &&
			 data[0] != '#' && data[0] != 'v'))
		return 0;
	fuzz_disk_run(data, size);
	return 0;
}
