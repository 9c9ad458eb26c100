/*
 * Vagrant .box assembly (FORMATS.md "Vagrant box", "Other Vagrant
 * providers", "Vagrant box catalog"): one tar written with libarchive per
 * provider -- virtualbox: box.ovf, the streamOptimized VMDK, metadata.json
 * and a Vagrantfile; libvirt: box.img (a qcow2), metadata.json and a
 * Vagrantfile; hyperv: "Virtual Machines/NAME.xml" and "Virtual Hard
 * Disks/NAME.vhd" or ".vhdx"; vmware_desktop: NAME.vmx and a
 * monolithicSparse NAME.vmdk -- and the catalog JSON that `vagrant box
 * add` reads.  This
 * module never compresses disks (the disk writers already did).
 */
#ifndef BOXWRIGHT_BOX_H
#define BOXWRIGHT_BOX_H

#include <stdint.h>

#include "boxwright/error.h"

/* The Vagrant provider a box is for: its name in metadata.json and the
 * catalog is bw_box_provider_name's. */
enum bw_box_provider {
	BW_BOX_VIRTUALBOX = 0,        /* the default */
	BW_BOX_LIBVIRT = 1,
	BW_BOX_HYPERV = 2,            /* "hyperv" */
	BW_BOX_VMWARE = 3,            /* "vmware_desktop" */
};

/* The libvirt disk bus (lv.disk_bus), chosen by the caller from the
 * storage drivers the image has: virtio needs drivers Windows lacks.
 * SATA (AHCI, storahci) runs on the q35 machine type, IDE (intelide /
 * pciide) on pc (i440FX): q35 has no IDE controller. */
enum bw_box_disk_bus {
	BW_BOX_BUS_IDE = 0,           /* the default: every Windows has it */
	BW_BOX_BUS_SATA = 1,
};
/* The same field places the VMware disk: ide0:0 or sata0:0 (AHCI).
 * Hyper-V's bus follows the generation (IDE for 1, synthetic SCSI for 2)
 * and VirtualBox's OVF is always PIIX4 IDE. */

struct bw_box_opts {
	const char *vmdk_path;        /* the streamOptimized disk to pack
				       * (virtualbox; disk_path is the
				       * provider-neutral name of this) */
	uint64_t disk_capacity;       /* its virtual size in bytes; 0 = the disk's */
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
	/* Added with the libvirt box: */
	enum bw_box_provider provider;
	const char *disk_path;        /* the disk to pack: a streamOptimized
				       * VMDK (virtualbox) or a qcow2 that
				       * the qcow2 writer wrote (libvirt);
				       * NULL = vmdk_path.  Both set and
				       * different is BW_EINVAL. */
	enum bw_box_disk_bus disk_bus; /* libvirt and vmware_desktop;
				       * VirtualBox's OVF is always PIIX4
				       * IDE, Hyper-V's bus follows the
				       * generation */
	int firmware_efi;             /* UEFI boot (a GPT image): libvirt
				       * lv.loader OVMF + lv.nvram;
				       * VirtualBox <Firmware type="EFI"/>
				       * and modifyvm --firmware efi;
				       * Hyper-V Generation 2; VMware
				       * firmware = "efi" */
	/* WinRM over HTTP with basic auth (config.winrm.transport =
	 * :plaintext, basic_auth_only = true).  Set it only when the image
	 * accepts it: `--winrm` was applied, or inspect found
	 * AllowUnencrypted and Basic already on.  Otherwise (0) the
	 * Vagrantfile keeps Vagrant's default, :negotiate without
	 * basic_auth_only, which a stock Windows accepts over HTTP. */
	int winrm_plaintext;
	/* Reproducible boxes: the tar members' mtime in seconds since the
	 * epoch (0 = now; negative is BW_EINVAL).  Members are always owned
	 * by 0:0 without user or group names, and a gzip box stores no
	 * timestamp, so with fixed disk_uuid, machine_uuid and mac the same
	 * inputs give the same bytes. */
	int64_t mtime;
	/* mtime is meant even when it is 0 (SOURCE_DATE_EPOCH=0). */
	int mtime_set;
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

/* libvirt's box image: vagrant-libvirt's metadata.json "virtual_size" is
 * in GiB (handle_box_image.rb: ByteNumber.from_GB), rounded up here. */
#define BW_BOX_LIBVIRT_LOADER   "/usr/share/OVMF/OVMF_CODE.fd"
#define BW_BOX_LIBVIRT_NVRAM_DIR "/var/lib/libvirt/qemu/nvram"

/*
 * Write the .box for o->provider to OUT_PATH (created with O_EXCL; the
 * caller renames it into place).  One call per provider: a build that
 * writes several boxes calls it once for each, with that provider's disk.
 * Returns 0, BW_EIO, BW_EINVAL, BW_ENOMEM; libarchive errors are
 * translated here.
 *  - virtualbox: the VMDK is opened with bw_disk_open first: it must be
 *    streamOptimized (BW_EINVAL otherwise; BW_EFORMAT or BW_EUNSUPPORTED
 *    if it does not open) and its capacity is the OVF's.
 *  - libvirt: the disk's qcow2 header is checked (our disk layer does not
 *    read qcow2): not a qcow2 is BW_EINVAL, a truncated or inconsistent
 *    header BW_EFORMAT, a version, encryption or incompatible feature we
 *    do not know BW_EUNSUPPORTED, a backing file, an external data file
 *    or a dirty image BW_EINVAL (box.img must stand alone); its size is
 *    metadata.json's virtual_size.
 *  - hyperv: a VHD (Generation 1: firmware_efi 0) or VHDX (Generation 2:
 *    firmware_efi set; Generation 2 has no VHD support), opened with
 *    bw_disk_open; another format is BW_EINVAL.  A VHD's capacity is
 *    the writer's CHS round-up of the size asked for
 *    (bw_writer_actual_size): give that as disk_capacity, or 0.
 *  - vmware_desktop: a monolithicSparse VMDK (VMware Workstation does not
 *    run streamOptimized ones); another format is BW_EINVAL.
 * A non-zero disk_capacity that differs from the disk's is BW_EINVAL.
 * Options are checked before anything is created; on failure the partial
 * output is removed (an existing OUT_PATH is never touched).
 */
int bw_box_write(const char *out_path, const struct bw_box_opts *o,
		 struct bw_error *err);

/* "virtualbox" / "libvirt" / "hyperv" / "vmware_desktop" (the metadata.json and catalog name), or NULL
 * for a value outside the enum. */
const char *bw_box_provider_name(enum bw_box_provider p);

/* The provider named NAME (as above).  Returns 0 or BW_EINVAL. */
int bw_box_provider_parse(const char *name, enum bw_box_provider *out,
			  struct bw_error *err);

/* The OVF text alone (for tests): malloc'd, NUL-terminated; capacity
 * from o->disk_capacity.  The UUIDs are 8-4-4-4-12 hex.  A NULL o->mac
 * draws a random one.  Returns 0, BW_EINVAL or BW_ENOMEM. */
int bw_box_ovf(const struct bw_box_opts *o, const char *disk_uuid,
	       const char *machine_uuid, char **out, struct bw_error *err);

/* The Vagrantfile text alone (for tests and dry runs) for o->provider:
 * malloc'd, NUL-terminated.  Returns 0, BW_EINVAL or BW_ENOMEM. */
int bw_box_vagrantfile(const struct bw_box_opts *o, char **out,
		       struct bw_error *err);

/* metadata.json alone (for tests): malloc'd, NUL-terminated; for libvirt
 * the virtual size comes from o->disk_capacity (non-zero).  Returns 0,
 * BW_EINVAL or BW_ENOMEM. */
int bw_box_metadata(const struct bw_box_opts *o, char **out,
		    struct bw_error *err);

struct bw_catalog_entry {
	const char *name;             /* box name, e.g. "boxwright/nano" */
	const char *version;          /* e.g. "1.0.0" */
	const char *provider;         /* bw_box_provider_name's */
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
