/*
 * Windows knowledge on registry hives (hivex), no disk I/O of its own: the
 * caller hands local hive files.  FORMATS.md "BCD", "SYSTEM and SOFTWARE
 * hives", "Windows setup state".
 */
#ifndef BOXWRIGHT_WIN_H
#define BOXWRIGHT_WIN_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/error.h"

/* ---- hive base block (regf) ---------------------------------------- */

struct bw_hive_header {
	uint32_t seq_primary;        /* LE32 at 4 */
	uint32_t seq_secondary;      /* LE32 at 8 */
	uint32_t checksum_stored;    /* LE32 at 0x1FC */
	uint32_t checksum_computed;  /* XOR of the first 127 LE32 words */
	uint32_t major, minor;       /* LE32 at 0x14, 0x18 */
	int dirty;                   /* checksum wrong or sequences differ */
};

/*
 * Check a hive's base block (the first 4096 bytes of the file; at least
 * 512 needed).  Returns 0 (header filled, dirty may be set), BW_EFORMAT
 * (too short or no "regf").  NAME names the hive in messages.
 */
int bw_hive_check(const uint8_t *base, size_t len, const char *name,
		  struct bw_hive_header *out, struct bw_error *err);
/* The same on the first 4096 bytes of PATH; also BW_ENOTFOUND (no such
 * file) and BW_EIO (cannot open or read it). */
int bw_hive_check_file(const char *path, const char *name,
		       struct bw_hive_header *out, struct bw_error *err);

/* ---- BCD device elements -------------------------------------------- */

enum bw_bcd_dev_kind {
	BW_BCD_DEV_UNKNOWN = 0,          /* type or size not recognised */
	BW_BCD_DEV_PARTITION_MBR,        /* type 6, MBR style */
	BW_BCD_DEV_PARTITION_GPT,        /* type 6, GPT style */
	BW_BCD_DEV_BOOT,                 /* type 5: the boot device */
	BW_BCD_DEV_LOCATE,               /* type 8 (other than a VHD) */
	BW_BCD_DEV_DISK,                 /* type 0 whose local device type
					  * or layout is not one below */
	BW_BCD_DEV_RAMDISK,              /* type 0, local type 3: an image
					  * file (path) on a parent device,
					  * options in another object */
	/* Added later; values never reused. */
	BW_BCD_DEV_HARDDISK_MBR,         /* type 0, local 0, MBR: signature */
	BW_BCD_DEV_HARDDISK_GPT,         /* type 0, local 0, GPT: disk GUID */
	BW_BCD_DEV_REMOVABLE,            /* type 0, local 1: drive number */
	BW_BCD_DEV_CDROM,                /* type 0, local 2: drive number */
	BW_BCD_DEV_FILE,                 /* type 0, local 5: a file (path)
					  * on a parent device */
	BW_BCD_DEV_VHD,                  /* a virtual disk file (local 6,
					  * alone or in a type 8): its path
					  * and the device holding it */
};

/* Device descriptor type field at 0x10 (FORMATS.md table). */
#define BW_BCD_DEVTYPE_DISK 0
#define BW_BCD_DEVTYPE_LEGACY_PARTITION 2
#define BW_BCD_DEVTYPE_RAMDISK 3
#define BW_BCD_DEVTYPE_BOOT 5
#define BW_BCD_DEVTYPE_PARTITION 6
#define BW_BCD_DEVTYPE_LOCATE 8

/* Longest file path of a RAM disk, file or VHD device, UTF-8 with its
 * NUL (Windows' MAX_PATH of 260 UTF-16 units fits 3 bytes each). */
#define BW_BCD_MAX_PATH 1024

/* The device a RAM disk's image, a file or a VHD lies on. */
struct bw_bcd_parent {
	enum bw_bcd_dev_kind kind;   /* PARTITION_MBR/GPT, BOOT, LOCATE;
				      * UNKNOWN when not understood */
	uint64_t part_offset;        /* PARTITION_MBR */
	uint32_t disk_signature;
	uint8_t part_guid[16];       /* PARTITION_GPT */
	uint8_t disk_guid[16];
};

struct bw_bcd_device {
	enum bw_bcd_dev_kind kind;
	uint32_t type;               /* raw type at 0x10, if len allows */
	uint64_t part_offset;        /* MBR partition byte offset */
	uint32_t disk_signature;     /* MBR disk signature (HARDDISK_MBR too) */
	uint8_t part_guid[16];       /* GPT */
	uint8_t disk_guid[16];       /* GPT (HARDDISK_GPT too) */
	uint8_t options_guid[16];    /* 0x00: an options object (a RAM disk's
				      * ramdisksdidevice/-path live there);
				      * zero: none */
	uint32_t local_type;         /* type 0: BL_LOCAL_DEVICE type at 0x20 */
	uint32_t drive_number;       /* REMOVABLE, CDROM */
	char path[BW_BCD_MAX_PATH];  /* RAMDISK, FILE, VHD: UTF-8 */
	struct bw_bcd_parent parent; /* RAMDISK, FILE, VHD */
};

/*
 * Decode the REG_BINARY data of a device element.  Always fills out->kind
 * (UNKNOWN for anything not understood) and out->type when len >= 0x14.
 * A partition kind needs a size field >= 0x38 with 0x10 + size <= len, a
 * hard-disk local type (0 at 0x30) and style 0 or 1 at 0x34.  A type-0
 * device is decoded by its local device type (bcd.c has the layouts);
 * one whose layout does not check out stays BW_BCD_DEV_DISK.  Type 3 is
 * a serial device (ReactOS), not a RAM disk: UNKNOWN.
 * Returns 0; BW_EFORMAT only when len < 0x18 (not a device element).
 */
int bw_bcd_decode_device(const uint8_t *data, size_t len,
			 struct bw_bcd_device *out);

/* "GUID" in registry form {xxxxxxxx-xxxx-...}, from 16 bytes (mixed endian). */
void bw_guid_format(const uint8_t guid[16], char out[39]);

struct bw_bcd_element {
	uint32_t id;                 /* e.g. 0x11000001 */
	struct bw_bcd_device dev;
	uint8_t *raw;                /* the element's data, owned */
	size_t raw_len;
};

struct bw_bcd_object {
	char guid[39];               /* key name under Objects */
	uint32_t type;               /* Description\Type */
	char *description;           /* element 12000004, UTF-8, may be NULL */
	struct bw_bcd_element *devices;  /* elements whose data is a device */
	size_t ndevices;
};

struct bw_bcd {
	struct bw_bcd_object *objects;
	size_t nobjects;
};

#define BW_BCD_MAX_OBJECTS 1024
#define BW_BCD_MAX_ELEMENTS 1024

/*
 * Load a BCD store (a hive file).  Device elements are recognised by the
 * element id's format field ((id >> 24) & 0xF == 1, "device") and decoded.
 * Object keys that are not GUIDs and element keys that are not 8 hex
 * digits are skipped; a device element whose data is not REG_BINARY or
 * too short is kept as BW_BCD_DEV_UNKNOWN with its raw bytes.
 * NAME names it in messages.  Returns 0, BW_EHIVE, BW_EFORMAT (no
 * Objects key, more than the BW_BCD_MAX_* caps, a description or
 * Description\Type of the wrong type), BW_ENOMEM.
 */
int bw_bcd_load(const char *path, const char *name, struct bw_bcd **out,
		struct bw_error *err);
void bw_bcd_free(struct bw_bcd *bcd);

/* ---- SYSTEM ----------------------------------------------------------- */

struct bw_mounted_device {
	char *name;                  /* value name, UTF-8 */
	int is_mbr;                  /* 12-byte (signature, offset) form */
	uint32_t disk_signature;
	uint64_t part_offset;
	int is_gpt;                  /* "DMIO:ID:" + GUID form */
	uint8_t part_guid[16];
	size_t len;                  /* data length */
};

#define BW_MAX_MOUNTED_DEVICES 4096

/*
 * What a storage or network driver drives (src/win/drivers.c has the
 * table of service names and where each comes from).  Values are bit
 * numbers for bw_driver_kinds; never reused.
 */
enum bw_driver_kind {
	BW_DRV_IDE_CHANNEL = 0,      /* atapi: the ATA channels' port driver */
	BW_DRV_IDE_CONTROLLER = 1,   /* intelide, pciide: the PCI IDE controller */
	BW_DRV_E1000 = 2,            /* E1G60: Intel PRO/1000 (82540EM/82545EM) */
	BW_DRV_AHCI = 3,             /* storahci, msahci: SATA AHCI */
	BW_DRV_VMBUS = 4,            /* vmbus: Hyper-V's VMBus */
	BW_DRV_STORVSC = 5,          /* storvsc: Hyper-V synthetic SCSI */
	BW_DRV_NETVSC = 6,           /* netvsc: Hyper-V synthetic NIC */
	BW_DRV_E1000E = 7,           /* e1iexpress: Intel 82574L (e1000e) */
	BW_DRV_VIRTIO_BLK = 8,       /* viostor */
	BW_DRV_VIRTIO_SCSI = 9,      /* vioscsi */
	BW_DRV_VIRTIO_NET = 10,      /* netkvm */
};
#define BW_DRIVER_KINDS 11
#define BW_DRIVER_BIT(k) (1u << (k))

/* Longest ImagePath kept (UTF-8 with its NUL); a longer one is kept as
 * "" with image_path_long set: its file is not looked for. */
#define BW_DRIVER_PATH_MAX 264

struct bw_driver_state {
	const char *service;         /* static string: "intelide", "E1G60"... */
	const char *what;            /* "IDE controller", "E1000 NIC" */
	int present;                 /* Services\<service> exists */
	int start;                   /* its Start value, -1 if absent */
	/* Added with the per-provider hardware: */
	enum bw_driver_kind kind;
	int boot;                    /* a driver of the boot disk's path: it
				      * loads only as a boot driver (Start 0) */
	int start_override;          /* StartOverride\0 (Windows 8 on: the
				      * start Windows really uses), -1 absent */
	char image_path[BW_DRIVER_PATH_MAX]; /* ImagePath as stored, "" absent */
	int image_path_long;
	int file;                    /* its driver file: 1 present, 0 missing,
				      * -1 not looked for */
};

#define BW_NUM_DRIVERS 13

struct bw_system_facts {
	uint32_t current_controlset; /* Select\Current */
	char controlset_name[16];    /* "ControlSet001" */
	char *computer_name;         /* Control\ComputerName\ComputerName */
	char *hostname;              /* Services\Tcpip\Parameters Hostname */
	int winrm_start;             /* Services\WinRM Start, -1 absent */
	int firewall_winrm_http;     /* an enabled inbound allow rule, TCP 5985 */
	int setup_in_progress;       /* Setup\SystemSetupInProgress, -1 absent */
	int setup_type;              /* Setup\SetupType, -1 absent */
	int oobe_in_progress;        /* Setup\OOBEInProgress, -1 absent */
	char *setup_cmdline;         /* Setup\CmdLine, may be NULL */
	char *setup_unattend_file;   /* Setup\UnattendFile (the answer file Setup
				      * reads first), may be NULL */
	struct bw_mounted_device *mounted;
	size_t nmounted;
	struct bw_driver_state drivers[BW_NUM_DRIVERS];
	/* HardwareConfig (hive root): Windows names a subkey after the
	 * SMBIOS system UUID of every machine it has booted on, "{GUID}",
	 * and LastConfig (REG_SZ) names the last one.  Absent until the
	 * first boot. */
	int last_config_present;     /* LastConfig exists (any content) */
	char last_config[39];        /* its "{GUID}" as stored (38 chars);
				      * "" when absent or not of that form */
	int last_config_key;         /* HardwareConfig\<last_config> exists */
};

/*
 * Read the facts inspect reports from a SYSTEM hive.  Missing keys are not
 * errors (fields stay -1/NULL); a hive without Select\Current, with a
 * Current of 0 or > 999, or without the ControlSet00N it names is
 * BW_EFORMAT, and so is a value present with the wrong type or length.
 * On failure OUT is left empty (freeing it is harmless).
 * Returns 0, BW_EHIVE, BW_EFORMAT, BW_ENOMEM.
 */
int bw_system_read(const char *path, const char *name,
		   struct bw_system_facts *out, struct bw_error *err);
void bw_system_facts_free(struct bw_system_facts *f);

/*
 * The SMBIOS system UUID the image last booted under, to pin on its
 * clones (DESIGN.md "Credentials and identity"): F's LastConfig without
 * braces, lowercase ("xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"), exactly as
 * Windows shows it (Win32_ComputerSystemProduct.UUID: the first three
 * fields decoded little-endian, SMBIOS 2.6 section 7.2.1).
 * Returns 0 (OUT set), BW_ENOTFOUND (no LastConfig: never booted),
 * BW_EFORMAT (a LastConfig that is not a "{GUID}", is all zero, or names
 * no HardwareConfig subkey: nothing trustworthy to pin).
 */
int bw_system_hardware_uuid(const struct bw_system_facts *f, char out[37]);

/*
 * IN (a UUID as Windows shows it, 36 chars) with the byte order of its
 * first three fields reversed, into OUT (lowercase): the value to give
 * VirtualBox's `modifyvm --hardwareuuid` for Windows to see IN when the
 * VM's SMBIOS UUID is stored big-endian (VirtualBox's default for
 * machines without SmbiosUuidLittleEndian, see DevPcBios.cpp: "to not
 * force reactivation of existing guests we have to carry this bug
 * along").  Its own inverse.  Returns 0, BW_EINVAL (IN not a UUID).
 */
int bw_smbios_uuid_swap(const char *in, char out[37]);

/*
 * The VirtualBox hardware drivers F's image carries (DESIGN.md: Nano needs
 * -OEMDrivers): *has_ide = 1 when the IDE controller and channel drivers
 * are usable (bw_driver_usable), *has_nic = 1 when the E1000's is, else 0.
 */
void bw_win_vbox_drivers(const struct bw_system_facts *f, int *has_ide,
			 int *has_nic);

/*
 * Can D drive its hardware when the box boots?  Its service exists with
 * a Start other than 4 (disabled); a boot-path driver (D->boot) must be a
 * boot driver, Start 0 with no StartOverride\0 other than 0 (winload
 * loads only those; a storage driver of Start 3 is the classic
 * INACCESSIBLE_BOOT_DEVICE after an IDE to AHCI switch, Microsoft KB
 * 922976); and its file, when looked for, is there.  1 or 0.
 */
int bw_driver_usable(const struct bw_driver_state *d);

/* The bits (BW_DRIVER_BIT) of the kinds with a usable driver among
 * D[0..N).  The IDE kinds are each reported alone: an IDE disk needs
 * both (BW_DRV_IDE_CHANNEL and BW_DRV_IDE_CONTROLLER). */
unsigned bw_driver_kinds(const struct bw_driver_state *d, size_t n);

/* "ide-channel", "ide-controller", "e1000", "ahci", "vmbus", "storvsc",
 * "netvsc", "e1000e", "virtio-blk", "virtio-scsi", "virtio-net"; NULL for
 * another value. */
const char *bw_driver_kind_name(enum bw_driver_kind k);

/*
 * The path on the Windows volume ("\Windows\System32\drivers\x.sys") of
 * the file D's service loads: its ImagePath relative to the system root
 * ("System32\..."), under \SystemRoot\ or %SystemRoot%\, or, without
 * ImagePath, the service manager's default System32\drivers\<service>.sys.
 * Returns 0, BW_EINVAL (a form that names no file on the Windows volume
 * we can tell, e.g. \??\D:\..., or an overlong path).
 */
int bw_driver_file_path(const struct bw_driver_state *d, char *out, size_t size);

/* ---- SOFTWARE --------------------------------------------------------- */

struct bw_software_facts {
	char *product_name;          /* Microsoft\Windows NT\CurrentVersion */
	char *current_build;
	char *edition_id;
	int wsman_allow_unencrypted; /* ...\WSMAN\Service, -1 absent */
	int wsman_service_auth_basic;
	int wsman_client_auth_basic; /* ...\WSMAN\Client */
};

/*
 * Read product, build, edition and WSMAN settings from a SOFTWARE hive.
 * Missing keys are not errors; a value of the wrong type is BW_EFORMAT.
 * Returns 0, BW_EHIVE, BW_EFORMAT, BW_ENOMEM.
 */
int bw_software_read(const char *path, const char *name,
		     struct bw_software_facts *out, struct bw_error *err);
void bw_software_facts_free(struct bw_software_facts *f);

/* ---- offline edits (patch/build) --------------------------------------
 *
 * Each edit opens a local hive file for writing, changes it, and commits
 * it with hivex_commit to the same path only when every change succeeded
 * (the caller uploads the file whole).  A dirty hive is refused first
 * (BW_EDIRTY naming the hive), whatever the edit.  Values keep their
 * registry types (REG_DWORD, REG_SZ as UTF-16LE with terminator, ...).
 */

struct bw_win_edits {
	int winrm;                   /* WSMAN keys, WinRM Start=2, firewall rule */
	const char *hostname;        /* ComputerName + Tcpip Hostname/NV Hostname */
	const char *const *reg_files;   /* regedit 4/5 files to merge */
	size_t nreg_files;
};

/* What an edit changed, for the CLI to report (counts of values set). */
struct bw_win_report {
	unsigned values_set;
	unsigned keys_created;
	unsigned bcd_devices_patched;
	unsigned bcd_devices_unknown;   /* left byte-identical */
	unsigned mounted_patched;
};

/* SOFTWARE edits: --winrm (WSMAN Service allow_unencrypted=1, auth_basic=1;
 * Client auth_basic=1), and the HKLM\SOFTWARE parts of .reg files. */
int bw_win_edit_software(const char *path, const struct bw_win_edits *e,
			 struct bw_win_report *rep, struct bw_error *err);

/* Is NAME a computer name Windows accepts (NetBIOS: 1 to 15 letters,
 * digits or hyphens, not all digits)?  0 or BW_EINVAL naming it. */
int bw_win_hostname_check(const char *name, struct bw_error *err);

/* SYSTEM edits in the control set Select\Current names: --winrm (WinRM
 * Start=2, inbound allow rule TCP 5985), --hostname, and HKLM\SYSTEM
 * parts of .reg files with CurrentControlSet mapped to ControlSet00N. */
int bw_win_edit_system(const char *path, const struct bw_win_edits *e,
		       struct bw_win_report *rep, struct bw_error *err);

/* A disk identity for the boot-chain fix-ups: MBR (signature, offset). */
struct bw_win_location {
	uint32_t disk_signature;
	uint64_t part_offset;
};

/* BCD: every device element (any object, any element whose data decodes
 * as an MBR partition device, nested ones included) naming OLD is
 * re-encoded to name NEW; other devices are left byte-identical. */
int bw_win_fix_bcd(const char *path, const struct bw_win_location *old_loc,
		   const struct bw_win_location *new_loc,
		   struct bw_win_report *rep, struct bw_error *err);

/* SYSTEM\MountedDevices: 12-byte values naming OLD now name NEW. */
int bw_win_fix_mounted_devices(const char *path,
			       const struct bw_win_location *old_loc,
			       const struct bw_win_location *new_loc,
			       struct bw_win_report *rep, struct bw_error *err);

/* Re-encode a decoded MBR partition device in place (DATA, LEN as read);
 * only offsets 0x20 and 0x38 change.  BW_EINVAL if DATA is not one. */
int bw_bcd_encode_mbr_device(uint8_t *data, size_t len,
			     const struct bw_win_location *loc);

/* ---- first-boot script (--first-boot-ps1) ------------------------------ */

/*
 * TEXT (LEN bytes) with every LF not already preceded by CR made CRLF
 * (CRLF kept, lone CR kept), into *OUT (malloc'd, NUL-terminated, *OUT_LEN
 * without the NUL).  For SetupComplete.cmd (cmd.exe needs CRLF) and the
 * .ps1 it runs.  Returns 0, BW_EINVAL (LEN over SIZE_MAX / 2), BW_ENOMEM.
 */
int bw_win_to_crlf(const char *text, size_t len, char **out, size_t *out_len,
		   struct bw_error *err);

/*
 * The SetupComplete.cmd text (CRLF throughout, ASCII) that runs the
 * PowerShell script PS1_WINPATH (a full path in the image, e.g.
 * "C:\Windows\Setup\Scripts\first-boot.ps1") the way Nano Server
 * needs: powershell.exe -NoProfile -ExecutionPolicy Bypass -Command with
 * the Microsoft.PowerShell.Utility, Microsoft.PowerShell.Management and
 * Storage modules imported by full path, then the script dot-sourced;
 * stdout and stderr to LOG_WINPATH (NULL: beside the script, its name
 * with .log for .ps1), its exit code appended there.  *CMD_TEXT is
 * malloc'd and NUL-terminated, *LEN without the NUL.
 * Returns 0, BW_EINVAL (a path that is not drive-absolute, is 260
 * characters or more, ends in \ or holds \\, a control or non-ASCII
 * byte, or one of " < > : | ? * / [ ]), BW_ENOMEM.
 */
int bw_win_first_boot_cmd(const char *ps1_winpath, const char *log_winpath,
			  char **cmd_text, size_t *len, struct bw_error *err);

/* ---- SAM: local accounts ----------------------------------------------
 *
 * FORMATS.md "SAM", DESIGN.md "Credentials and identity".  The SAM hive's
 * hashes are encrypted with a key the SYSTEM hive holds (the boot key in
 * the class names of ControlSet00N\Control\Lsa\{JD,Skew1,GBG,Data}):
 * RC4/DES before Windows 10 1607, AES-128-CBC/DES from 1607 on.
 */

#define BW_SAM_RID_ADMINISTRATOR 500
/* Users\ keys beyond this are refused (a SAM holds a handful). */
#define BW_SAM_MAX_ACCOUNTS 4096
/* Windows' limit on a password, in UTF-16 units (PWLEN). */
#define BW_SAM_MAX_PASSWORD 256

struct bw_sam_account {
	uint32_t rid;
	char *name;                  /* UTF-8, from V */
	int enabled;                 /* ACB_DISABLED (F at 0x38) clear */
	int locked;                  /* ACB_AUTOLOCK set */
	int hash_revision;           /* NT hash entry: 0 none, 1 RC4, 2 AES */
	int has_nt_hash;             /* the entry holds a hash (a password) */
};

struct bw_sam_info {
	int key_revision;            /* SAM\Domains\Account\F: 1 RC4, 2 AES */
	struct bw_sam_account *accounts;   /* in hive order */
	size_t naccounts;
};

/*
 * Read the local accounts of the SAM hive PATH (NAME names it in
 * messages; no SYSTEM needed: nothing is decrypted).  Users\ subkeys that
 * are not 8 hex digits (Names) are skipped.  Returns 0, BW_EHIVE,
 * BW_ENOTFOUND (no SAM\Domains\Account\Users), BW_EFORMAT (a V or F too
 * short or pointing outside itself, more than BW_SAM_MAX_ACCOUNTS),
 * BW_EUNSUPPORTED (a key or hash revision we do not know), BW_ENOMEM.
 * On failure OUT is left empty (freeing it is harmless).
 */
int bw_sam_read(const char *path, const char *name, struct bw_sam_info *out,
		struct bw_error *err);
void bw_sam_info_free(struct bw_sam_info *info);

struct bw_sam_password {
	uint32_t rid;                /* BW_SAM_RID_ADMINISTRATOR */
	const char *password;        /* UTF-8 */
	int enable;                  /* clear ACB_DISABLED and ACB_AUTOLOCK, zero
				      * the bad-password count */
	uint64_t when;               /* Unix time written as the password's
				      * last-set time; 0: now (unless when_set) */
	int when_set;                /* WHEN is meant even when 0 */
	const uint8_t *salt;         /* 16 bytes: the AES entry's IV; NULL:
				      * random (give one for --reproducible) */
};

/* What bw_sam_set_password did. */
struct bw_sam_report {
	int key_revision;            /* 1 RC4 or 2 AES: the hash written */
	int old_hash_revision;       /* the NT entry before: 0 none, 1, 2 */
	int had_nt_hash;
	int entry_resized;           /* V rebuilt with new offsets */
	int lm_cleared;              /* an LM hash was there and is gone */
	int was_enabled, enabled;
};

/*
 * Set the password of account REQ->rid in the SAM hive SAM_PATH,
 * decrypting the SAM's key with the boot key of SYSTEM_PATH (read only):
 * the NT hash MD4(UTF-16LE(password)) encrypted as the SAM's key revision
 * asks, the LM hash emptied, V rebuilt when the entry's size changes, the
 * last-set time written, and with REQ->enable the account enabled and
 * unlocked.  The new entry is decrypted again and compared before
 * anything is written; the SAM is committed once (win_reg_commit:
 * atomically) or left as it was.
 * Returns 0, BW_EINVAL (no password, an empty one, not UTF-8 or longer
 * than BW_SAM_MAX_PASSWORD UTF-16 units; RID 0), BW_EDIRTY, BW_ENOTFOUND (no such account or
 * key; a hive missing), BW_EHIVE, BW_EIO, BW_EFORMAT (a value too short
 * or pointing outside itself), BW_EUNSUPPORTED (any revision, header or
 * layout we do not know; a boot key that does not decrypt this SAM),
 * BW_ENOMEM.
 */
int bw_sam_set_password(const char *sam_path, const char *system_path,
			const struct bw_sam_password *req,
			struct bw_sam_report *rep, struct bw_error *err);

/* ---- unattend.xml: Windows Setup answer files ------------------------------
 * Parsed with libxml2, with no network, no DTD loading and no entity
 * substitution: the image's own files are hostile bytes.  Elements are
 * matched by local name (the unattend namespace is
 * urn:schemas-microsoft-com:unattend), case-sensitively as Setup does.
 */
#define BW_UNATTEND_MAX_BYTES (4u << 20)
#define BW_UNATTEND_MAX_PASSWORDS 16

/*
 * Is DATA (LEN bytes) well-formed XML?  Returns 0, BW_EFORMAT ("LABEL:
 * line N: what the parser said"), BW_EINVAL (larger than
 * BW_UNATTEND_MAX_BYTES), BW_ENOMEM.
 */
int bw_unattend_check(const void *data, size_t len, const char *label,
		      struct bw_error *err);

enum bw_unattend_pw_kind {
	BW_UNATTEND_ADMINISTRATOR_PASSWORD = 1, /* UserAccounts/AdministratorPassword */
	BW_UNATTEND_LOCAL_ACCOUNT,              /* UserAccounts/LocalAccounts/LocalAccount
						 * named Administrator: its Password */
	BW_UNATTEND_AUTOLOGON,                  /* AutoLogon/Password, Username Administrator */
};

/* One password an answer file gives the built-in Administrator. */
struct bw_unattend_password {
	enum bw_unattend_pw_kind kind;
	char pass[32];                /* the <settings pass="..."> it is in, "" none */
	long line;                    /* of its Value element (or the parent's) */
	int plaintext;                /* PlainText true (or absent) */
	/* Against the password asked for: 1 the same, 0 another one, -1 it
	 * cannot be compared (a hidden value that is not base64 of UTF-16LE
	 * text ending in the element's name, as Setup writes it). */
	int same;
};

/*
 * Find the passwords DATA (an answer file) gives the Administrator and
 * compare each with PASSWORD (UTF-8).  A hidden value (PlainText false) is
 * base64 of UTF-16LE(password + "AdministratorPassword") (or + "Password"
 * for AutoLogon and LocalAccount), as Windows SIM writes it.  At most MAX
 * are kept in OUT; *N is how many were found.  Returns 0, or the codes of
 * bw_unattend_check.
 */
int bw_unattend_admin_passwords(const void *data, size_t len, const char *label,
				const char *password, struct bw_unattend_password *out,
				size_t max, size_t *n, struct bw_error *err);

/* "AdministratorPassword", "LocalAccount Administrator", "AutoLogon" */
const char *bw_unattend_pw_kind_name(enum bw_unattend_pw_kind k);

#endif
