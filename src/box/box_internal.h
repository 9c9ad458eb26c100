/*
 * Internal helpers of the box module (src/box/): a growing text buffer,
 * random identities (UUIDs, MAC addresses), the validation of strings that
 * are inserted into the OVF, the Vagrantfile and the catalog, and their
 * escaping.  Nothing here is public; see include/boxwright/box.h.
 */
#ifndef BW_BOX_INTERNAL_H
#define BW_BOX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "boxwright/box.h"
#include "common/uuid.h"

/* The disk's name inside the box: box.ovf's File ovf:href and the tar
 * entry (VirtualBox's exporter names disks "<vm>-disk001.vmdk"). */
#define BOX_DISK_NAME "box-disk001.vmdk"

/* The libvirt box's disk: vagrant-libvirt reads exactly this name for a
 * box without a "disks" list (handle_box_image.rb, box format v1). */
#define BOX_LIBVIRT_DISK_NAME "box.img"

/* The Hyper-V box's directories (import.rb reads exactly these) and the
 * extension of the VMware box's files: member names are built from the
 * VM name by box_member_names. */
#define BOX_HYPERV_VM_DIR   "Virtual Machines/"
#define BOX_HYPERV_DISK_DIR "Virtual Hard Disks/"

/* ---- the tar (tar.c) ---------------------------------------------------
 * One .box being written.  box_tar_open creates OUT_PATH with O_EXCL;
 * members are added in order; box_tar_close finishes, fsyncs and frees.
 * After any failure (close included) the caller calls box_tar_abort,
 * which also removes the partial file.  Every call returns 0, BW_EIO,
 * BW_ENOMEM (BW_EINVAL for a file too large for a member). */
struct box_tar;
int box_tar_open(const char *out_path, int gzip, time_t mtime,
		 struct box_tar **out, struct bw_error *err);
int box_tar_add_text(struct box_tar *t, const char *name, const char *text,
		     struct bw_error *err);
/* SIZE bytes of FD from its current offset (SRC_PATH names it in
 * errors). */
int box_tar_add_file(struct box_tar *t, const char *name, int fd,
		     uint64_t size, const char *src_path, struct bw_error *err);
int box_tar_close(struct box_tar *t, struct bw_error *err);
void box_tar_abort(struct box_tar *t);

/* ---- text buffer ------------------------------------------------------
 * Appends never fail loudly: the first failed allocation sets `failed`
 * and later appends do nothing, so a writer checks once at the end
 * (box_buf_finish) instead of after every line. */
struct box_buf {
	char *data;
	size_t len, cap;
	int failed;
};

void box_buf_init(struct box_buf *b);
void box_buf_free(struct box_buf *b);
void box_buf_add(struct box_buf *b, const char *s, size_t n);
void box_buf_puts(struct box_buf *b, const char *s);
void box_buf_printf(struct box_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* XML character data or attribute value: & < > " ' as entities (the
 * caller has checked the string with box_check_text). */
void box_buf_xml(struct box_buf *b, const char *s);
/* A JSON string literal, quotes included. */
void box_buf_json_str(struct box_buf *b, const char *s);
/* A Ruby double-quoted string literal, quotes included: \ " # escaped
 * (no #{} interpolation), control bytes as \xHH. */
void box_buf_ruby_str(struct box_buf *b, const char *s);
/* Hand the NUL-terminated text to *OUT (the buffer is emptied), or
 * BW_ENOMEM if any append failed. */
int box_buf_finish(struct box_buf *b, char **out, const char *what,
		   struct bw_error *err);

/* ---- identities ------------------------------------------------------- */

/* N bytes from getrandom(2).  Returns 0 or BW_EIO. */
int box_random(void *buf, size_t n, struct bw_error *err);

/* A random version-4 UUID, lowercase, 36 characters + NUL. */
int box_uuid_random(char out[37], struct bw_error *err);

/* UUIDs are checked with bw_uuid_parse (common/uuid.h), which refuses
 * the zero UUID as VirtualBox's parseUUID does. */

/* A random MAC for NAT: unicast (bit 0 of the first octet clear, as
 * VirtualBox requires) and locally administered (bit 1 set), as 12
 * uppercase hex digits + NUL (VirtualBox's MACAddress form). */
int box_mac_random(char out[13], struct bw_error *err);

/* Is S 12 hex digits naming a unicast, non-zero MAC?  Copies it
 * uppercased to OUT. */
int box_mac_parse(const char *s, char out[13]);

/* ---- strings ---------------------------------------------------------- */

/* Does S hold well-formed UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF) without control characters (< 0x20, 0x7F), and at most
 * MAX bytes?  These are the characters that XML 1.0, JSON and a Ruby
 * literal all carry without surprises. */
int box_check_text(const char *s, size_t max);

/* The options with defaults applied and every field checked: what the
 * OVF, the Vagrantfile and the tar writer use. */
struct box_resolved {
	enum bw_box_provider provider;
	const char *vm_name;
	unsigned memory_mb, cpus;
	const char *user, *password;
	char mac[13];                 /* virtualbox only ("" for the others:
				       * their hypervisors draw one per VM) */
	int has_hardware_uuid;
	char hardware_uuid[37];
	enum bw_box_disk_bus disk_bus;
	int firmware_efi;
	int winrm_plaintext;
	const char *disk_path;        /* disk_path or vmdk_path; may be NULL */
	time_t mtime;                 /* the tar members' (now for 0) */
};

/* Apply the defaults of box.h to O and validate it; draws a random MAC if
 * O has none (virtualbox only: vagrant-libvirt gives each domain its own
 * MAC).  Returns 0, BW_EINVAL (naming the field) or BW_EIO. */
int box_resolve(const struct bw_box_opts *o, struct box_resolved *r,
		struct bw_error *err);

/* bw_box_ovf and bw_box_vagrantfile on resolved options (bw_box_write
 * resolves once so that both files carry the same MAC). */
int box_ovf_text(const struct box_resolved *r, uint64_t capacity,
		 const char *disk_uuid, const char *machine_uuid, char **out,
		 struct bw_error *err);
int box_vagrantfile_text(const struct box_resolved *r, char **out,
			 struct bw_error *err);

/* ---- the libvirt box (libvirt.c) -------------------------------------- */

/* Check the qcow2 header of the file open as FD (PATH in errors) and
 * give its virtual size.  The codes of bw_box_write's libvirt case. */
int box_qcow2_check(int fd, const char *path, uint64_t *virtual_size,
		    struct bw_error *err);

/* ---- the Hyper-V box (hyperv.c) ---------------------------------------- */

/* The XML New-VagrantVMXML reads; DISK_MEMBER is the disk's tar member
 * name ("Virtual Hard Disks/NAME.vhd"), which the drive's pathname
 * names.  Generation 2 when R->firmware_efi.  Returns 0, BW_EINVAL or
 * BW_ENOMEM. */
int box_hyperv_xml_text(const struct box_resolved *r, const char *disk_member,
			char **out, struct bw_error *err);

/* PATH must be a VHD or VHDX (VHDX only for Generation 2): its capacity,
 * and whether it is a VHDX (the member's extension).  Returns 0,
 * BW_EINVAL, or bw_disk_open's codes. */
int box_hyperv_check_disk(const char *path, int gen2, uint64_t *capacity,
			  int *vhdx, struct bw_error *err);

/* ---- the VMware box (vmware.c) ----------------------------------------- */

/* VMware's uuid.bios form of a canonical UUID ("56 4d ... 12-34 ..."). */
void box_vmware_uuid_bios(const char *uuid, char out[48]);

/* The .vmx naming DISK_MEMBER (a bare file name).  Returns 0, BW_EINVAL
 * or BW_ENOMEM. */
int box_vmx_text(const struct box_resolved *r, const char *disk_member,
		 char **out, struct bw_error *err);

/* PATH must be a monolithicSparse VMDK: its capacity.  Returns 0,
 * BW_EINVAL, or bw_disk_open's codes. */
int box_vmware_check_disk(const char *path, uint64_t *capacity, struct bw_error *err);

/* metadata.json for R's provider; CAPACITY (bytes) gives libvirt's
 * virtual_size.  Returns 0, BW_EINVAL or BW_ENOMEM. */
int box_metadata_text(const struct box_resolved *r, uint64_t capacity,
		      char **out, struct bw_error *err);

#endif
