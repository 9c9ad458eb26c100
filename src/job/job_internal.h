/*
 * Inside the job module: the image handle behind the model, the per-job
 * work directory, and the steps that build and patch share (the guest
 * session that edits the Windows volume).
 */
#ifndef BW_JOB_INTERNAL_H
#define BW_JOB_INTERNAL_H

#include <limits.h>
#include <pthread.h>

#include "boxwright/box.h"
#include "boxwright/copy.h"
#include "boxwright/job.h"

/* Where Windows keeps the hives the jobs read and edit. */
#define SYSTEM_PATH "\\Windows\\System32\\config\\SYSTEM"
#define SOFTWARE_PATH "\\Windows\\System32\\config\\SOFTWARE"

/* ---- work directory (workdir.c) ---------------------------------------- */

#define WORK_MAX_PATHS 32
#define WORK_MAX_OUTPUTS 4

/*
 * A job's private directory and its files.  Nothing here is process-wide:
 * each job has its own, and cleans it up on every return path.  The
 * directory is made on first use (a read-only inspect with the native
 * backend never needs one).
 */
struct job_work {
	const struct bw_job_hooks *h;
	char dir[PATH_MAX];                 /* "" until made */
	char *paths[WORK_MAX_PATHS];        /* names handed out, owned */
	size_t npaths;
	char *outputs[WORK_MAX_OUTPUTS];    /* temporaries beside final names */
	size_t noutputs;
	/* Working files deleted on a thread while the job goes on: a
	 * partition file of gigabytes frees its extents and page cache in a
	 * few hundred ms of kernel time that can overlap the next step. */
	pthread_t remover;
	int remover_started;
	const char *removing[BW_IMAGE_MAX_VOLUMES];
	size_t nremoving;
	/* Set from hooks->stop by the copy's progress callback, read by the
	 * copy engine between chunks. */
	volatile int stop_flag;
	const char *stage;                  /* for progress */
};

void work_init(struct job_work *w, const struct bw_job_hooks *h);
/* The path of NAME inside the directory (made now if needed).  Returns 0
 * or BW_EIO/BW_ENOMEM; *PATH stays valid until work_cleanup. */
int work_path(struct job_work *w, const char *name, const char **path, struct bw_error *err);
/* A temporary name beside FINAL (same filesystem: the rename is atomic),
 * removed by work_cleanup unless committed. */
int work_output(struct job_work *w, const char *final, const char **tmp, struct bw_error *err);
/* rename TMP over FINAL and sync the directory. */
int work_commit(struct job_work *w, const char *tmp, const char *final, struct bw_error *err);
/* Delete these files of the directory on a thread (see above). */
void work_remove_async(struct job_work *w, const char *const *paths, size_t n);
/* Remove uncommitted outputs, every file in the directory and the
 * directory itself; free W's names. */
void work_cleanup(struct job_work *w);
/* BW_EINTERRUPTED when the caller asked the job to stop, else 0. */
int work_check_stop(struct job_work *w, const char *file, struct bw_error *err);
void work_warn(struct job_work *w, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Copy options whose progress goes to the hooks and whose stop flag
 * follows hooks->stop. */
void work_copy_opts(struct job_work *w, const char *stage, struct bw_copy_opts *co);

/* ---- the image (image.c) ------------------------------------------------- */

struct bw_image {
	struct bw_image_model m;
	struct bw_disk *disk;
	struct bw_ntfs *ntfs[BW_IMAGE_MAX_VOLUMES];
	const char *workfile[BW_IMAGE_MAX_VOLUMES];  /* used clusters copied here */
	int guest_idx[BW_IMAGE_MAX_VOLUMES];         /* volume index in the session */
	struct bw_bcd *bcd;
	struct job_work work;                        /* bw_image_probe's */
};

/* The active MBR partition (1-based), 0 if none. */
int image_active_part(const struct bw_image_model *m);
/* Copy volume I's used clusters into a file of W (im->workfile[I]). */
int image_copy_volume(struct bw_image *im, int i, struct job_work *w, struct bw_error *err);
/* 1 if WINPATH exists in the mounted volume, 0 if not, or a code. */
int image_exists(struct bw_guest *g, const char *winpath, struct bw_error *err);
/* Which Windows files volume I holds (mounted in G); hibernation. */
int image_probe_volume(struct bw_guest *g, struct bw_image *im, int i, struct bw_error *err);
/* A GPT disk's EFI system partition through the FAT reader: which boot
 * files it holds (has_bootmgr: \EFI\Boot\bootx64.efi, has_bcd), its BCD
 * copied to BCD_LOCAL when given; m.boot_vol set to it.  No ESP: 0, and
 * boot_vol unchanged. */
int image_esp(struct bw_image *im, const char *bcd_local, struct bw_error *err);
/* Options for bw_guest_open: the backend, notes to the hooks. */
struct bw_guest_opts image_guest_opts(const struct bw_backend_opts *bo,
				      const struct bw_job_hooks *h, int readonly);
/* What messages call a volume's working file: "IMAGE: partition N". */
#define JOB_LABEL_MAX (PATH_MAX + 32)
void image_label(char *buf, const char *image, int part);

/* ---- options (options.c) --------------------------------------------------- */

/* The backend is built into this library: 0 or BW_EUSAGE. */
int job_check_backend(const struct bw_backend_opts *bo, struct bw_error *err);
/* Every edit's local file readable, LOCAL:GUESTDIR well formed, lists
 * within BW_EDITS_MAX_LIST; REQUIRE: at least one edit.  BW_EUSAGE. */
int job_check_edits(const struct bw_edits *ed, int require, struct bw_error *err);
/* OUT is not IN (same inode): BW_EUSAGE with WHAT as the message. */
int job_check_not_input(const char *in, const char *out, const char *what,
			struct bw_error *err);
/* OUT can be created: its directory exists and is writable, and it is not
 * a directory itself.  BW_EUSAGE naming it. */
int job_check_output(const char *out, struct bw_error *err);
/* Has ED any edit at all? */
int job_edits_any(const struct bw_edits *ed);

/* ---- reproducible builds (repro.c) ----------------------------------------- */

struct job_repro {
	int on;
	int64_t epoch;                     /* seconds since 1970 */
	uint8_t seed[32];                  /* identities: bw_derive_bytes */
	uint8_t input_digest[32];          /* SHA-256 of the input file */
	/* The seed is worked out on a thread while the volumes are copied
	 * (job_repro_start): valid only after job_repro_wait returned 0. */
	pthread_t thread;
	int started, joined;
	volatile int cancel;               /* the job gave up: stop hashing */
	int status;
	struct bw_error err;
	const struct bw_build_opts *o;
	struct job_work *w;
};

/* Whether O asks for a reproducible build, and its epoch; refuses a bad
 * SOURCE_DATE_EPOCH and the sandbox backend.  0 or BW_EUSAGE. */
int job_repro_check(const struct bw_build_opts *o, struct job_repro *rp, struct bw_error *err);
/* Start working out the seed from the input file and the options (one
 * sequential read of the file, ~1 GB/s of CPU) on a thread, so that it
 * overlaps the copy of the volumes.  0, or BW_ENOMEM when no thread. */
int job_repro_start(const struct bw_build_opts *o, struct job_repro *rp, struct job_work *w,
		    struct bw_error *err);
/* Wait for the seed: 0 (also when RP is off), or the hashing's error
 * (BW_EIO, BW_ENOMEM, BW_EINTERRUPTED) copied to ERR. */
int job_repro_wait(struct job_repro *rp, struct bw_error *err);
/* On the way out: stop a hashing still running and join it. */
void job_repro_stop(struct job_repro *rp);
/* The epoch as a FILETIME (100 ns since 1601); 0 when RP is NULL or off. */
uint64_t job_repro_filetime(const struct job_repro *rp);

/* ---- the edit session (edits.c) -------------------------------------------- */

/* Boot-chain fix-ups when partitions move or the signature changes: one
 * (old, new) identity per partition that changes (Windows, and a "System
 * Reserved" one), and the volume whose \Boot\BCD boots. */
#define JOB_MAX_MOVES 2
struct job_fixups {
	size_t nmoves;
	struct bw_win_location old_loc[JOB_MAX_MOVES], new_loc[JOB_MAX_MOVES];
	int bcd_vol;                 /* index into the image's volumes */
};

/* Refuse untrusted volumes; copy each NTFS volume's used clusters. */
int job_volumes_prepare(struct bw_image *im, struct job_work *w, struct bw_error *err);
/* One read-write session over the working files; m.win_vol found and
 * mounted.  RP (may be NULL): every inode the session writes takes its
 * epoch as its times. */
int job_session_start(struct bw_image *im, const struct bw_backend_opts *bo,
		      const struct bw_job_hooks *h, const struct job_repro *rp,
		      struct bw_guest **g, struct bw_error *err);
/* Hives (edits, and FX's fix-ups when given), then files.  RP (may be
 * NULL): the SAM hash's salt and set time derived, not random. */
int job_session_edit(struct bw_guest *g, struct bw_image *im, struct job_work *w,
		     const struct bw_edits *ed, const struct job_fixups *fx,
		     const struct job_repro *rp, struct bw_edit_result *res,
		     struct bw_error *err);
/* Shut the session down (checked); returns R or the close error. */
int job_session_end(struct bw_guest *g, int r, struct bw_error *err);

/* ---- drivers and hardware per provider (hardware.c) ---------------------- */

/*
 * The disk bus of PROVIDER's box (*BUS) from the drivers of E (SYSTEM as
 * edited), GPT giving Hyper-V's generation; when the box declares
 * hardware the image has no driver for, a warning (code
 * "drivers-missing-<provider>") or, with STRICT, BW_EUNSUPPORTED naming
 * FILE.  A provider unknown here, or drivers not read: IDE, no check.
 */
int job_choose_hardware(const struct bw_edit_result *e, enum bw_box_provider provider, int gpt,
			int strict, struct job_work *w, const char *file,
			enum bw_box_disk_bus *bus, struct bw_error *err);
/* Look for the file of each present driver of D[0..N) on the session's
 * current volume (the Windows one): d->file 1/0, -1 when its ImagePath
 * names none we can look for.  Returns 0 or the guest's code. */
int job_driver_files(struct bw_guest *g, struct bw_driver_state *d, size_t n,
		     struct bw_error *err);
/* M's driver_kinds and per-provider verdicts from its SYSTEM facts. */
void job_hardware_model(struct bw_image_model *m);

#endif
