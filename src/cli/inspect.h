/* inspect: the facts gathered from an image, and their two renderings. */
#ifndef BW_CLI_INSPECT_H
#define BW_CLI_INSPECT_H

#include <stdint.h>

#include "boxwright/disk.h"
#include "boxwright/ntfs.h"
#include "boxwright/part.h"
#include "boxwright/win.h"

#define INSPECT_MAX_DIAG 64

struct inspect_vol {
	int part;                    /* 1-based MBR slot; 0 = whole disk */
	uint64_t offset, size;       /* bytes */
	int is_ntfs;
	struct bw_ntfs *ntfs;
	struct bw_ntfs_geometry geo;
	struct bw_ntfs_state st;
	int backup_present;          /* NTFS boot sector in the last sector */
	uint32_t backup_hidden;
	const char *workfile;        /* used clusters copied here */
	int guest_idx;               /* volume index in the guest session */
	int has_windows, has_bootmgr, has_bcd;
	int has_setupcomplete, has_unattend;
	int hibernated;              /* -1 unknown */
};

struct inspect_hive {
	int present, header_ok;
	struct bw_hive_header hdr;
	int logs;                    /* .LOG1/.LOG2 files beside it */
	int loaded;                  /* facts read */
	char error[BW_ERROR_MSG_MAX]; /* why facts could not be read */
};

struct inspect_diag {
	char code[40];
	char msg[400];
};

struct inspect {
	const char *file;
	struct bw_disk *disk;
	struct bw_disk_info info;
	int has_mbr;
	struct bw_mbr mbr;
	struct inspect_vol vols[4];
	int nvols;
	int guest_done;              /* the hive/file step ran */
	int win_vol, boot_vol;       /* indexes into vols, -1 none */
	struct inspect_hive system_hive, software_hive, bcd_hive;
	struct bw_system_facts sys;
	struct bw_software_facts sw;
	struct bw_bcd *bcd;
	struct inspect_diag diag[INSPECT_MAX_DIAG];
	int ndiag;
};

/*
 * Shared with patch and convert, which need the same view of an image.
 */
struct bw_guest;
/* Disk-level facts: MBR (or a bare volume) and each NTFS volume opened. */
int inspect_read_layout(struct inspect *in, struct bw_error *err);
/* Copy V's used clusters into a registered temporary file (v->workfile). */
int inspect_copy_volume(struct inspect_vol *v, struct bw_error *err);
/* 1 if WINPATH exists in the mounted volume, 0 if not, or a code. */
int inspect_exists(struct bw_guest *g, const char *winpath, struct bw_error *err);
/* Which Windows files the mounted volume holds; hibernation. */
int inspect_probe_volume(struct bw_guest *g, struct inspect_vol *v, struct bw_error *err);
void inspect_note_stderr(void *opaque, const char *msg);
/* Release everything IN holds (not IN itself). */
void inspect_free(struct inspect *in);

void inspect_print_text(const struct inspect *in);
void inspect_print_json(const struct inspect *in);

/* The partition (1-based) whose MBR start is OFFSET bytes, 0 if none. */
int inspect_part_at(const struct inspect *in, uint64_t offset);

#endif
