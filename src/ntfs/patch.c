/*
 * The one NTFS field boxwright writes itself: hidden sectors (0x1C) in the
 * primary and backup boot sectors, which the Windows VBR code uses to find
 * BOOTMGR once the partition has moved (FORMATS.md "NTFS boot sector").
 * Everything else about the volume is written by ntfs-3g.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/ntfs.h"
#include "common/bytes.h"
#include "ntfs/ntfs_internal.h"


static int patch_sector(int fd, uint64_t off, uint32_t hidden, const char *name,
			int must, int *patched, struct bw_error *err)
{
	uint8_t s[512];
	ssize_t n = pread(fd, s, sizeof s, (off_t)off);
	if (n != (ssize_t)sizeof s)
		return bw_seterr(err, BW_EIO, name, "cannot read the boot sector at offset %llu: %s",
				 (unsigned long long)off, n < 0 ? strerror(errno) : "short read");
	*patched = 0;
	if (!bw_ntfs_probe(s)) {
		if (must)
			return bw_seterr(err, BW_EFORMAT, name,
					 "offset %llu: expected an NTFS boot sector (\"NTFS    \" at 3)",
					 (unsigned long long)off);
		return 0;
	}
	bw_put_le32(s + NTFS_BOOT_HIDDEN_SECTORS, hidden);
	if (pwrite(fd, s, sizeof s, (off_t)off) != (ssize_t)sizeof s)
		return bw_seterr(err, BW_EIO, name, "cannot write the boot sector at offset %llu: %s",
				 (unsigned long long)off, strerror(errno));
	*patched = 1;
	return 0;
}

int bw_ntfs_set_hidden_sectors(int fd, uint64_t part_size, uint32_t hidden,
			       const char *name, int *backup_patched,
			       struct bw_error *err)
{
	int p0, p1 = 0;
	if (part_size < 1024)
		return bw_seterr(err, BW_EFORMAT, name, "partition of %llu bytes is too small",
				 (unsigned long long)part_size);
	int r = patch_sector(fd, 0, hidden, name, 1, &p0, err);
	if (r == 0)
		r = patch_sector(fd, part_size - 512, hidden, name, 0, &p1, err);
	if (backup_patched)
		*backup_patched = p1;
	return r;
}
