/*
 * Vagrant .box assembly (FORMATS.md "Vagrant box", "Vagrant box catalog"):
 * box.ovf, the disk, metadata.json and a Vagrantfile in a tar written with
 * libarchive; and the catalog JSON that `vagrant box add` reads.  This
 * module never compresses disks (the VMDK already is).
 */
#ifndef BOXWRIGHT_BOX_H
#define BOXWRIGHT_BOX_H

#include <stdint.h>

#include "boxwright/error.h"

struct bw_box_opts {
	const char *vmdk_path;        /* the streamOptimized disk to pack */
	uint64_t disk_capacity;       /* its virtual size in bytes; 0 = the VMDK's */
	const char *vm_name;          /* OVF VirtualSystem id / vbox Machine name */
	unsigned memory_mb;           /* default 1024 */
	unsigned cpus;                /* default 1 */
	const char *hardware_uuid;    /* "xxxxxxxx-xxxx-..." or NULL = none */
	const char *mac;              /* 12 hex digits, NULL = a random local MAC */
	const char *winrm_user;       /* default "administrator" */
	const char *winrm_password;   /* default "vagrant" */
	int gzip;                     /* --box-compress gzip */
	/* Added: fixed identities for reproducible output and tests; NULL =
	 * a random version-4 UUID ("xxxxxxxx-xxxx-4xxx-...") each. */
	const char *disk_uuid;        /* DiskSection vbox:uuid = <Image uuid> */
	const char *machine_uuid;     /* vbox:Machine uuid */
};

/* Defaults and limits of bw_box_opts (0 / NULL fields take the default). */
#define BW_BOX_DEFAULT_VM_NAME  "boxwright-nano"
#define BW_BOX_DEFAULT_MEMORY_MB 1024u
#define BW_BOX_DEFAULT_CPUS     1u
#define BW_BOX_DEFAULT_USER     "administrator"
#define BW_BOX_DEFAULT_PASSWORD "vagrant"
/* VirtualBox's settings schema: 1..64 CPUs (SchemaDefs MaxCPUCount) and
 * 4 MiB..2 TiB of RAM (MinGuestRAM / MaxGuestRAM on 64-bit hosts). */
#define BW_BOX_MAX_CPUS         64u
#define BW_BOX_MIN_MEMORY_MB    4u
#define BW_BOX_MAX_MEMORY_MB    2097152u
#define BW_BOX_MAX_NAME         128   /* bytes of vm_name */
#define BW_BOX_MAX_CREDENTIAL   256   /* bytes of winrm user / password */

/*
 * Write the .box to OUT_PATH (created with O_EXCL; the caller renames it
 * into place).  Returns 0, BW_EIO, BW_EINVAL, BW_ENOMEM; libarchive errors
 * are translated here.  The VMDK is opened with bw_disk_open first: it
 * must be streamOptimized (BW_EINVAL otherwise; BW_EFORMAT or
 * BW_EUNSUPPORTED if it does not open) and its capacity is the OVF's (a
 * non-zero disk_capacity that differs is BW_EINVAL).  Options are checked
 * before anything is created; on failure the partial output is removed
 * (an existing OUT_PATH is never touched).
 */
int bw_box_write(const char *out_path, const struct bw_box_opts *o,
		 struct bw_error *err);

/* The OVF text alone (for tests): malloc'd, NUL-terminated; capacity
 * from o->disk_capacity.  The UUIDs are 8-4-4-4-12 hex.  A NULL o->mac
 * draws a random one.  Returns 0, BW_EINVAL or BW_ENOMEM. */
int bw_box_ovf(const struct bw_box_opts *o, const char *disk_uuid,
	       const char *machine_uuid, char **out, struct bw_error *err);

/* The Vagrantfile text alone (for tests): malloc'd, NUL-terminated.
 * Returns 0, BW_EINVAL or BW_ENOMEM. */
int bw_box_vagrantfile(const struct bw_box_opts *o, char **out,
		       struct bw_error *err);

struct bw_catalog_entry {
	const char *name;             /* box name, e.g. "boxwright/nano" */
	const char *version;          /* e.g. "1.0.0" */
	const char *provider;         /* "virtualbox" */
	const char *url;              /* absolute: file:///... or http(s)://... */
	const char *sha256;           /* 64 hex digits */
	const char *description;      /* added: a new catalog's description;
				       * NULL = a default one.  An existing
				       * catalog keeps its own. */
};

/* A catalog larger than this is refused (BW_EUNSUPPORTED): it is read
 * whole into memory to be rewritten. */
#define BW_CATALOG_MAX_BYTES   (16u << 20)

/*
 * Write or update the catalog at PATH: name, versions (sorted), each with
 * providers {name, url, checksum_type "sha256", checksum}.  An existing
 * catalog must have the same name (else BW_EINVAL); the same version and
 * provider are replaced.  Written to a temporary file and renamed.
 * Returns 0, BW_EINVAL (bad entry: relative URL, bad version or checksum;
 * another box's catalog), BW_EFORMAT (the existing file is not a catalog),
 * BW_EUNSUPPORTED (larger than BW_CATALOG_MAX_BYTES), BW_EIO, BW_ENOMEM.
 */
int bw_catalog_update(const char *path, const struct bw_catalog_entry *e,
		      struct bw_error *err);

/*
 * What bw_catalog_update would refuse, checked before the box is built:
 * the entry's name, version and provider (URL and checksum may be NULL)
 * and the existing catalog at PATH, if any (read, never written).  The
 * same codes as bw_catalog_update.
 */
int bw_catalog_check(const char *path, const struct bw_catalog_entry *e,
		     struct bw_error *err);

/* SHA-256 of a file as 64 lowercase hex digits + NUL.  Returns 0,
 * BW_ENOTFOUND, BW_EIO or BW_ENOMEM. */
int bw_sha256_file(const char *path, char out[65], struct bw_error *err);

#endif
