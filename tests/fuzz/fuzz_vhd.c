/*
 * libFuzzer harness for the VHD reader (src/disk/vhd.c): inputs with the
 * "conectix" cookie at the start or in the last 512 bytes are opened and
 * read through bw_disk; others are skipped (they would be raw).  Seeds:
 * make-seeds.py.
 */
#include <string.h>

#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	int head = memcmp(data, "conectix", 8) == 0;
	int tail = size >= 512 && memcmp(data + size - 512, "conectix", 8) == 0;
	if (!head && !tail)
		return 0;
	fuzz_disk_run(data, size);
	return 0;
}
