/*
 * boxwright's pipelines as library calls (DESIGN.md "Modules": job):
 * the image model that `inspect` prints, and the build, patch and convert
 * jobs.  The command line is one caller of these; a binding (Python, a
 * Packer plugin) is another, and gets the same checks.
 *
 * Every job:
 * - validates ALL of its options before any I/O on the image, failing with
 *   BW_EUSAGE and a message that names the option;
 * - owns a private work directory (under hooks->workdir, else $TMPDIR,
 *   else /var/tmp) and every temporary file in it, and removes them on
 *   every return path, interrupted or not;
 * - writes its output under a temporary name beside the final one and
 *   renames it into place only when complete and synced;
 * - never prints: progress, warnings and notes go through the hooks, and
 *   the error through struct bw_error.
 */
#ifndef BOXWRIGHT_JOB_H
#define BOXWRIGHT_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/disk.h"
#include "boxwright/error.h"
#include "boxwright/guest.h"
#include "boxwright/ntfs.h"
#include "boxwright/part.h"
#include "boxwright/win.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What a caller lends a job.  Every member may be NULL/0.
 * - progress: STAGE ("copy", "build", "patch", "convert") with bytes done
 *   of TOTAL, called now and then while data is streamed;
 * - warn: something the caller should tell the user (CODE is a stable
 *   identifier such as "drivers-missing", MSG one line of text);
 * - note: what the guest backend says it does (e.g. a TCG retry), only
 *   when the job's options ask for verbose;
 * - stop: polled between steps and between chunks of a copy; non-zero
 *   makes the job clean up and return BW_EINTERRUPTED.  It may read a flag
 *   that a signal handler sets.
 * - workdir: where the job makes its private directory.
 */
struct bw_job_hooks {
	void (*progress)(void *opaque, const char *stage, uint64_t done, uint64_t total);
	void (*warn)(void *opaque, const char *code, const char *msg);
	void (*note)(void *opaque, const char *msg);
	int (*stop)(void *opaque);
	void *opaque;
	const char *workdir;
};

/* How the NTFS volumes are edited or read (guest.h): the backend and
 * whether it may say what it does. */
struct bw_backend_opts {
	enum bw_guest_kind kind;     /* BW_GUEST_DEFAULT: native when built */
	int verbose;
};

/* ---- the image model (what `inspect` shows) ---------------------------- */

/* Partitions the model holds (GPT disks may have more: refused). */
#define BW_IMAGE_MAX_VOLUMES 16
#define BW_IMAGE_MAX_DIAG 64

struct bw_image_volume {
	int part;                    /* 1-based MBR slot or GPT entry; 0 = the whole disk */
	int gpt_kind;                /* enum bw_gpt_kind on a GPT disk, else 0 */
	uint64_t offset, size;       /* bytes */
	int is_ntfs;
	struct bw_ntfs_geometry geo;
	struct bw_ntfs_state st;
	int backup_present;          /* an NTFS boot sector in the last sector */
	uint32_t backup_hidden;      /* its hidden-sectors field */
	/* Read through the guest session (bw_image_probe); 0 before. */
	int has_windows, has_bootmgr, has_bcd;
	int has_setupcomplete, has_unattend;
	int hibernated;              /* -1 unknown */
};

struct bw_image_hive {
	int present, header_ok;
	struct bw_hive_header hdr;
	int logs;                    /* .LOG1/.LOG2 files beside it */
	int loaded;                  /* its facts were read */
	char error[BW_ERROR_MSG_MAX]; /* why they could not be */
};

struct bw_image_diag {
	char code[40];               /* stable: "hidden-sectors-mismatch", ... */
	char msg[400];
};

/*
 * The virtual hardware each provider's box declares, and whether the
 * image has drivers for it (DESIGN.md "Correctness rules", last bullet).
 * A target is a provider's box as boxwright writes it; Hyper-V has two
 * (generation 1 for MBR images, 2 for GPT).  Values never reused.
 */
enum bw_hw_target {
	BW_HW_VIRTUALBOX = 0,        /* PIIX4 IDE, E1000 (the OVF's) */
	BW_HW_LIBVIRT = 1,           /* SATA on q35 or IDE on pc, e1000 */
	BW_HW_HYPERV_GEN1 = 2,       /* IDE disk, synthetic NIC */
	BW_HW_HYPERV_GEN2 = 3,       /* SCSI (storvsc) disk, synthetic NIC */
	BW_HW_VMWARE_DESKTOP = 4,    /* sata0 (AHCI) or ide0, e1000 */
};
#define BW_HW_NTARGETS 5

struct bw_hw_verdict {
	const char *provider;        /* Vagrant's name: "virtualbox", "libvirt",
				      * "hyperv", "vmware_desktop" */
	int generation;              /* Hyper-V's 1 or 2; 0 for the others */
	const char *disk_bus;        /* the disk's bus: "ide", "sata", "scsi" */
	const char *nic;             /* "e1000", "netvsc" */
	int disk_ok, nic_ok;         /* the image has usable drivers for them */
	const char *code;            /* build's warning code when not ok:
				      * "drivers-missing-<provider>" */
	char missing[200];           /* what lacks, "" when both are ok */
	const char *fix;             /* how to get it (New-NanoServerImage) */
};

/*
 * What target T's box would use and whether the image's usable driver
 * kinds KINDS (bw_driver_kinds's bits) cover it.  A bus with a choice
 * (libvirt, vmware_desktop) is SATA when AHCI drivers are there, else IDE
 * when the IDE ones are, else SATA (and disk_ok 0).  T out of range:
 * V->provider NULL.
 */
void bw_hw_decide(unsigned kinds, enum bw_hw_target t, struct bw_hw_verdict *v);

struct bw_image_model {
	const char *file;
	const char *format;          /* bw_disk_format */
	uint64_t size;               /* virtual size */
	struct bw_disk_info info;
	int has_mbr;
	struct bw_mbr mbr;
	int has_gpt;                 /* then mbr is not used */
	struct bw_gpt gpt;           /* valid when has_gpt */
	struct bw_image_volume vols[BW_IMAGE_MAX_VOLUMES];
	int nvols;
	int probed;                  /* bw_image_probe ran */
	int win_vol, boot_vol;       /* indexes into vols, -1 none */
	struct bw_image_hive system_hive, software_hive, bcd_hive;
	struct bw_system_facts sys;  /* valid when system_hive.loaded */
	struct bw_software_facts sw; /* valid when software_hive.loaded */
	const struct bw_bcd *bcd;    /* NULL unless bcd_hive.loaded */
	struct bw_image_diag diag[BW_IMAGE_MAX_DIAG];
	int ndiag;
	/* Per provider, from the SYSTEM hive's drivers (whose files were
	 * looked for in the session): valid when hw_known. */
	int hw_known;
	unsigned driver_kinds;       /* bw_driver_kinds of sys.drivers */
	struct bw_hw_verdict hw[BW_HW_NTARGETS];
};

struct bw_image;

/*
 * Open PATH read-only and read its disk-level facts: container, partition
 * table, each NTFS volume's geometry and state.  Returns 0, or BW_EIO,
 * BW_EFORMAT, BW_EUNSUPPORTED, BW_ENOMEM.
 */
int bw_image_open(const char *path, struct bw_image **out, struct bw_error *err);

/*
 * bw_image_open that keeps what it read when a later step fails (a
 * partition or volume it cannot read, a layout it refuses): once the
 * container is open, *OUT is set even when the call returns an error, and
 * its model holds the disk and every volume read before the failure (a
 * volume whose NTFS could not be read has is_ntfs 0).  Close it either
 * way.  An input that is no disk boxwright reads (an unknown container, a
 * truncated header) leaves *OUT NULL.
 */
int bw_image_open_partial(const char *path, struct bw_image **out, struct bw_error *err);

/*
 * Read the files and hives of the NTFS volumes through one read-only guest
 * session (the native backend reads the partitions in place; the appliance
 * reads copies of their used clusters in the job's work directory).
 * Returns 0, BW_EUSAGE (a backend not built), BW_EINTERRUPTED, or the
 * guest's and the reader's codes.  On failure the model keeps what was
 * read; probed is set once the NTFS session ran (a GPT disk's EFI system
 * partition is read after it, and may still fail).
 */
int bw_image_probe(struct bw_image *im, const struct bw_backend_opts *bo,
		   const struct bw_job_hooks *h, struct bw_error *err);

/* Fill the model's diagnoses: what would stop the image booting.  Call
 * once, after open (and probe, for the hive and BCD checks). */
void bw_image_diagnose(struct bw_image *im);

const struct bw_image_model *bw_image_model(const struct bw_image *im);

/* The MBR partition (1-based) that starts at byte OFFSET, 0 if none. */
int bw_image_part_at(const struct bw_image_model *m, uint64_t offset);

/* Accepts NULL. */
void bw_image_close(struct bw_image *im);

/* ---- edits (patch and build) -------------------------------------------- */

#define BW_EDITS_MAX_LIST 64

struct bw_edits {
	int winrm;                   /* WSMAN, WinRM service, firewall rule */
	const char *setup_complete;  /* local file -> SetupComplete.cmd (CRLF) */
	const char *unattend;        /* local file -> \Windows\Panther\unattend.xml */
	const char *hostname;
	const char *const *copy_in;  /* "LOCAL:GUESTDIR" each */
	size_t ncopy;
	const char *const *reg;      /* .reg files */
	size_t nreg;
	/* The built-in Administrator's password (RID 500), set in the SAM
	 * hive and the account enabled; build's Vagrantfile logs in with it
	 * unless winrm_password is given. */
	const char *admin_password;
	/* A PowerShell script run once at the end of setup, through a
	 * SetupComplete.cmd that loads Nano's modules by path and logs to
	 * \Windows\Setup\Scripts\first-boot.log.  With setup_complete too,
	 * that script runs first (called), then this one. */
	const char *first_boot_ps1;
};

struct bw_edit_result {
	struct bw_win_report system, software, bcd, mounted;
	int setup_pending;           /* -1 unknown */
	int has_ide, has_nic;        /* drivers a VirtualBox box needs; -1 unknown */
	/* The storage and NIC drivers of SYSTEM as edited, their files
	 * looked for after every file edit: valid when drivers_read. */
	int drivers_read;
	struct bw_driver_state drivers[BW_NUM_DRIVERS];
	unsigned files_written;
	int windows_partition;       /* 1-based; 0 = a bare volume */
	int admin_password_set;      /* the SAM was changed */
	int winrm_allowed;           /* unencrypted basic WinRM allowed after the
				      * edits (WSMAN Service); -1 unknown */
	char booted_uuid[37];        /* HardwareConfig\LastConfig: the SMBIOS UUID
				      * the image booted under; "" never booted */
	int sam_key_revision;        /* 1 RC4, 2 AES: how its hash was written */
};

/* ---- convert -------------------------------------------------------------- */

struct bw_convert_opts {
	const char *input, *output;
	enum bw_write_format format;   /* 0: from OUTPUT's extension */
	int sparsify;                  /* free NTFS clusters read as zeros */
	int compress_level;            /* VMDK: 1..9, 0 = 6 */
	int threads;                   /* VMDK: 1..256, 0 = all CPUs */
	const char *adapter_type;      /* VMDK: ide (NULL), lsilogic, buslogic, legacyESX */
	/* NULL: probe the input's format; "raw": read the file itself as
	 * the disk, even one bw_disk_open would refuse as a container we do
	 * not read (not with sparsify, which probes its partition table
	 * through bw_image_open). */
	const char *input_format;
};

struct bw_convert_result {
	const char *input_format;      /* static strings */
	const char *output_format;
	uint64_t virtual_size;
	unsigned ntfs_volumes;         /* regions sparsified */
	uint64_t bytes_mapped, bytes_read, bytes_skipped_free;
	uint64_t output_size;
};

/* "vmdk" (streamOptimized), "vmdk-sparse" (monolithicSparse), "vhd"/"vpc",
 * "vhd-fixed", "vhdx", "qcow2", "raw"/"img" -> *F; BW_EUSAGE otherwise. */
int bw_write_format_parse(const char *name, enum bw_write_format *f);
/* "raw", "vhd-dynamic", "vhd-fixed", "vmdk-streamOptimized",
 * "vmdk-monolithicSparse", "qcow2", "vhdx-dynamic" */
const char *bw_write_format_name(enum bw_write_format f);

int bw_convert(const struct bw_convert_opts *o, const struct bw_job_hooks *h,
	       struct bw_convert_result *res, struct bw_error *err);

/* ---- patch ----------------------------------------------------------------- */

struct bw_patch_opts {
	const char *input;
	const char *output;            /* NULL with in_place */
	int in_place;                  /* replace INPUT atomically */
	struct bw_edits edits;         /* at least one */
	struct bw_backend_opts backend;
};

struct bw_patch_result {
	const char *format;            /* the input's (static) */
	const char *backend;           /* the backend that ran */
	struct bw_edit_result edits;
	uint64_t output_size;
};

int bw_patch(const struct bw_patch_opts *o, const struct bw_job_hooks *h,
	     struct bw_patch_result *res, struct bw_error *err);

/* ---- build ----------------------------------------------------------------- */

#define BW_BUILD_MIN_SIZE (UINT64_C(16) << 20)
#define BW_BUILD_MAX_SIZE (UINT64_C(2) << 40)    /* MBR: 2 TiB; GPT too */

struct bw_build_opts {
	const char *input, *output;    /* OUTPUT: the .box */
	uint64_t size;                 /* 0: the input's */
	int new_signature;             /* a fresh random MBR disk signature */
	/* The VM's SMBIOS UUID: "auto" (NULL: the one the image booted under,
	 * else a fresh one), "random", "none", or a UUID */
	const char *hardware_uuid;
	/* "virtualbox" (NULL), "libvirt", "hyperv", "vmware_desktop", or
	 * several comma-separated: one box each from the same working files
	 * (the image is read and edited once; one disk per provider).  With several, -o NAME.box gives
	 * NAME-PROVIDER.box; an output ending in '/' (or a directory) gives
	 * DIR/IMAGE[-PROVIDER].box. */
	const char *provider;
	unsigned memory_mb, cpus;      /* 0: 1024, 1 */
	const char *winrm_user, *winrm_password;   /* NULL: administrator, vagrant */
	int gzip;                      /* gzip the box's tar */
	const char *catalog;           /* write or update this catalog ... */
	const char *box_name, *box_version;        /* ... required with it */
	const char *base_url;          /* NULL: file:// URLs */
	int chkdsk;                    /* keep the dirty flag ntfsresize sets */
	int strict;                    /* what build would warn about is an error */
	int compress_level, threads;   /* as in bw_convert_opts */
	struct bw_edits edits;         /* may be empty */
	struct bw_backend_opts backend;
	/*
	 * Reproducible boxes (DESIGN.md "Credentials and identity"): what a
	 * build would draw at random (the OVF disk and machine UUIDs, the
	 * MAC, a fresh hardware UUID, a --new-signature disk signature, the
	 * VMDK CID and image UUID, the SAM hash's salt) is derived from a
	 * SHA-256 of the input FILE's bytes and of the options that shape
	 * the box, and every time stamp (the tar members', the files and
	 * directories written into the NTFS volume, the password's set time
	 * in the SAM) is the epoch below.  The same input and options then
	 * give byte-identical boxes.  Native backend only (BW_EUSAGE with
	 * the sandbox: the appliance's ntfs-3g stamps the clock).
	 */
	int reproducible;
	/* SOURCE_DATE_EPOCH (decimal seconds since 1970, as the
	 * reproducible-builds.org spec says): implies reproducible.  NULL:
	 * 946684800 (2000-01-01T00:00:00Z) when reproducible. */
	const char *source_date_epoch;
};

/* The epoch of reproducible builds without SOURCE_DATE_EPOCH. */
#define BW_BUILD_DEFAULT_EPOCH INT64_C(946684800)

#define BW_BUILD_MAX_BOXES 4       /* one per provider */
struct bw_build_box {
	const char *provider;          /* bw_box_provider_name's */
	char path[4096];
	uint64_t size;
	char sha256[65];               /* with a catalog; else "" */
};

struct bw_build_result {
	size_t nboxes;                 /* in the order --provider named them */
	struct bw_build_box boxes[BW_BUILD_MAX_BOXES];
	uint64_t box_size, disk_size;  /* box_size: the first box's */
	uint32_t disk_signature;
	uint64_t old_partition_offset, partition_offset;
	char hardware_uuid[37];        /* "" when none */
	const char *backend;
	uint64_t bytes_read, bytes_skipped_free;
	struct bw_edit_result edits;
	char sha256[65];               /* of the box, with a catalog; else "" */
	int winrm_plaintext;           /* the Vagrantfile logs in with plaintext basic auth */
	int reproducible;              /* identities derived, times fixed */
	char input_sha256[65];         /* the input file's, when reproducible */
};

int bw_build(const struct bw_build_opts *o, const struct bw_job_hooks *h,
	     struct bw_build_result *res, struct bw_error *err);

/* ---- batch manifests ------------------------------------------------------ */

/*
 * A JSON Lines manifest of jobs, one object per line:
 *   {"command":"build","input":"a.vhd","output":"a.box","options":["--winrm"]}
 * ("edits" is taken for "options"; a build's "provider", a string such as
 * "virtualbox,libvirt" or an array of names, becomes "--provider" LIST at
 * the end of its options).  The options stay command-line words:
 * a runner hands them to the command (batch runs each job as a child
 * process of its own).  Relative paths are made relative to the
 * manifest's directory.
 */
#define BW_MANIFEST_MAX_BYTES (16u << 20)
#define BW_MANIFEST_MAX_JOBS 100000
#define BW_MANIFEST_MAX_OPTIONS 256

struct bw_manifest_entry {
	char *command;                 /* "build" or "patch" */
	char *input, *output;
	char **options;
	size_t noptions;
};

struct bw_manifest {
	struct bw_manifest_entry *entries;
	size_t n;
};

/* Read and check the whole manifest.  Returns 0, BW_EIO, BW_ENOMEM or
 * BW_EFORMAT naming the file and line (bad JSON, a duplicate key, an
 * unknown command, a missing input or output, too many jobs). */
int bw_manifest_read(const char *path, struct bw_manifest **out, struct bw_error *err);
void bw_manifest_free(struct bw_manifest *mf);

#ifdef __cplusplus
}
#endif
#endif
