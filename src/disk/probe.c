/*
 * Containers boxwright recognises but does not read.  A raw disk has no
 * magic, so raw is what is left when no driver claims a file; without this
 * table a qcow2, a VDI or a gzip of a disk would be "read" as a raw disk
 * holding its own container bytes (convert copied them, inspect found no
 * partitions and nothing to diagnose).  Every signature we refuse lives
 * here, each with what the user is told to do instead.
 *
 * Sources: qemu block/qcow.c and block/qcow2.c (magic "QFI\xfb" and the
 * version that tells them apart), block/qed.h ("QED\0"), block/vdi.c (the
 * "<<< ... >>>" text and the signature 0xbeda107f at 0x40),
 * block/parallels.c (two magics), block/vmdk.c (COWD, descriptor files)
 * and block/dmg.c (the 512-byte "koly" trailer, version 4); RFC 1952
 * (gzip), bzip2's and xz's file format notes, RFC 8878 (zstd frame magic
 * 0xfd2fb528); POSIX ustar (magic at 257); PKWARE APPNOTE (local file
 * header "PK\3\4"); ECMA-119 (the volume descriptor at sector 16 of 2048
 * bytes: "CD001" at 0x8001).
 *
 * Only the drivers that read a format (VHD, VHDX, VMDK sparse) are probed
 * before this table, so a fixed VHD whose first sector happens to look
 * like anything is still a VHD.  Every read is bounds-checked against the
 * bytes really read (a short file shows only what it has).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "disk/disk_internal.h"

/* The bytes of the file's start that the table looks at: enough for the
 * ISO 9660 identifier (sector 16 of 2048 bytes, plus one, plus 5). */
#define PROBE_WINDOW     0x8800u
#define PROBE_SECTOR     512u

/* What the user is told to do. */
enum probe_kind {
	PROBE_IMAGE,        /* a disk image qemu-img reads: convert it to VHD */
	PROBE_VMDK_DESC,    /* a VMDK descriptor file (createType named) */
	PROBE_COMPRESSED,   /* decompress it */
	PROBE_ARCHIVE,      /* extract the image from it */
	PROBE_MEDIA,        /* an installation medium, not a disk */
};

struct probe_sig {
	const char *format;        /* the format's name as the user knows it */
	const char *what;          /* "a qcow2 image" */
	enum probe_kind kind;
	int in_tail;               /* OFF is inside the last 512 bytes */
	uint32_t off;
	const char *magic;         /* NULL: CHECK decides alone */
	size_t len;
	const char *shown;         /* the magic as the message prints it */
	/* A further test on the window (N bytes read) and the tail (NULL
	 * when the file is shorter than 512 bytes); NULL: the magic is
	 * enough. */
	int (*check)(const uint8_t *win, size_t n, const uint8_t *tail);
	/* PROBE_COMPRESSED: the decompressor and the suffix it strips. */
	const char *tool, *suffix;
};

/* qcow version 1 (block/qcow.c); 2 and 3 are qcow2. */
static int probe_qcow1(const uint8_t *win, size_t n, const uint8_t *tail)
{
	(void)tail;
	return n >= 8 && bw_get_be32(win + 4) == 1;
}

/* VirtualBox and qemu both start a VDI with a "<<< ... >>>" line; the
 * signature at 0x40 alone could be MBR boot code. */
static int probe_vdi(const uint8_t *win, size_t n, const uint8_t *tail)
{
	(void)tail;
	return n >= 4 && memcmp(win, "<<< ", 4) == 0;
}

/* UDIF trailer: version 4, header size 512 (block/dmg.c reads these). */
static int probe_dmg(const uint8_t *win, size_t n, const uint8_t *tail)
{
	(void)win; (void)n;
	return bw_get_be32(tail + 4) == 4 && bw_get_be32(tail + 8) == PROBE_SECTOR;
}

/* "BZh" then the block size '1'..'9'. */
static int probe_bzip2(const uint8_t *win, size_t n, const uint8_t *tail)
{
	(void)tail;
	return n >= 4 && win[3] >= '1' && win[3] <= '9';
}

/* A hybrid ISO (isohybrid: an MBR in sector 0) is a disk image too: read
 * it as raw.  Only a plain CD/DVD image is refused. */
static int probe_iso(const uint8_t *win, size_t n, const uint8_t *tail)
{
	(void)tail;
	return n >= PROBE_SECTOR && !(win[510] == 0x55 && win[511] == 0xAA);
}

/* A text descriptor file: comment and blank lines, then "version=" (qemu's
 * vmdk_probe), or the "# Disk DescriptorFile" banner every producer
 * writes.  Looks at the first sector only, as qemu does. */
static int probe_vmdk_descriptor(const uint8_t *win, size_t n, const uint8_t *tail)
{
	(void)tail;
	static const char banner[] = "# Disk DescriptorFile";
	if (n > PROBE_SECTOR)
		n = PROBE_SECTOR;
	if (n >= sizeof banner - 1 && memcmp(win, banner, sizeof banner - 1) == 0)
		return 1;
	size_t i = 0;
	while (i < n) {
		if (win[i] == '#') {
			while (i < n && win[i] != '\n')
				i++;
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && (win[j] == ' ' || win[j] == '\t' || win[j] == '\r'))
			j++;
		if (j < n && win[j] == '\n') {
			i = j + 1;
			continue;
		}
		return n - i >= 8 && memcmp(win + i, "version=", 8) == 0;
	}
	return 0;
}

/* First match wins: qcow before qcow2 (same magic). */
static const struct probe_sig probe_table[] = {
	{ "qcow", "a qcow (version 1) image", PROBE_IMAGE, 0, 0, "QFI\xfb", 4,
	  "QFI\\xfb", probe_qcow1, NULL, NULL },
	{ "qcow2", "a qcow2 image", PROBE_IMAGE, 0, 0, "QFI\xfb", 4,
	  "QFI\\xfb", NULL, NULL, NULL },
	{ "QED", "a QED image", PROBE_IMAGE, 0, 0, "QED\0", 4,
	  "QED\\0", NULL, NULL, NULL },
	{ "VDI", "a VirtualBox VDI image", PROBE_IMAGE, 0, 0x40, "\x7f\x10\xda\xbe", 4,
	  "signature 0xbeda107f", probe_vdi, NULL, NULL },
	{ "Parallels", "a Parallels image", PROBE_IMAGE, 0, 0, "WithoutFreeSpace", 16,
	  "WithoutFreeSpace", NULL, NULL, NULL },
	{ "Parallels", "a Parallels image", PROBE_IMAGE, 0, 0, "WithouFreSpacExt", 16,
	  "WithouFreSpacExt", NULL, NULL, NULL },
	{ "VMDK COWD (ESX vmfsSparse)", "a VMDK COWD extent (ESX vmfsSparse)", PROBE_IMAGE,
	  0, 0, "COWD", 4, "COWD", NULL, NULL, NULL },
	{ "VMDK descriptor files", "a VMDK descriptor file", PROBE_VMDK_DESC, 0, 0, NULL, 0,
	  NULL, probe_vmdk_descriptor, NULL, NULL },
	{ "DMG", "an Apple disk image (DMG)", PROBE_IMAGE, 1, 0, "koly", 4,
	  "koly trailer", probe_dmg, NULL, NULL },
	{ "gzip", "a gzip-compressed file", PROBE_COMPRESSED, 0, 0, "\x1f\x8b\x08", 3,
	  "1f 8b", NULL, "gzip", ".gz" },
	{ "bzip2", "a bzip2-compressed file", PROBE_COMPRESSED, 0, 0, "BZh", 3,
	  "BZh", probe_bzip2, "bzip2", ".bz2" },
	{ "xz", "an xz-compressed file", PROBE_COMPRESSED, 0, 0, "\xfd" "7zXZ\0", 6,
	  "fd 37 7a 58 5a 00", NULL, "xz", ".xz" },
	{ "zstd", "a zstd-compressed file", PROBE_COMPRESSED, 0, 0, "\x28\xb5\x2f\xfd", 4,
	  "28 b5 2f fd", NULL, "zstd", ".zst" },
	{ "tar", "a tar archive (an OVA or a Vagrant box?)", PROBE_ARCHIVE, 0, 257, "ustar", 5,
	  "ustar", NULL, "tar -xf", NULL },
	{ "zip", "a zip archive", PROBE_ARCHIVE, 0, 0, "PK\x03\x04", 4,
	  "PK\\x03\\x04", NULL, "unzip", NULL },
	{ "ISO 9660", "an ISO 9660 CD/DVD image", PROBE_MEDIA, 0, 0x8001, "CD001", 5,
	  "CD001", probe_iso, NULL, NULL },
};

/* Does SIG match?  WIN holds the first N bytes, TAIL the last 512 (or
 * NULL).  Every offset is checked against what was really read. */
static int probe_match(const struct probe_sig *sig, const uint8_t *win, size_t n,
		       const uint8_t *tail)
{
	if (sig->in_tail && !tail)
		return 0;
	if (sig->magic) {
		const uint8_t *base = sig->in_tail ? tail : win;
		size_t have = sig->in_tail ? PROBE_SECTOR : n;
		if (sig->off > have || sig->len > have - sig->off ||
		    memcmp(base + sig->off, sig->magic, sig->len) != 0)
			return 0;
	}
	return !sig->check || sig->check(win, n, tail);
}

/* S as one shell word: as it is when it holds only safe characters, else
 * in single quotes.  Truncated to CAP (the message is capped anyway). */
static void probe_shell_word(const char *s, char *out, size_t cap)
{
	static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789._-+/,:@=%";
	size_t o = 0;
	int quote = !*s || strspn(s, safe) != strlen(s);
	if (quote && o + 1 < cap)
		out[o++] = '\'';
	for (; *s && o + 5 < cap; s++) {
		if (quote && *s == '\'') {
			memcpy(out + o, "'\\''", 4);
			o += 4;
		} else {
			out[o++] = *s;
		}
	}
	if (quote && o + 1 < cap)
		out[o++] = '\'';
	out[o] = '\0';
}

/* Where a conversion of PATH goes: PATH with its extension replaced by EXT
 * (".vhd"), or with SUFFIX stripped when it ends with it; never PATH itself
 * (a qcow2 named x.vhd gives x-converted.vhd). */
static void probe_out_name(const char *path, const char *ext, const char *suffix,
			   char *out, size_t cap)
{
	size_t len = strlen(path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	if (suffix) {
		size_t sl = strlen(suffix);
		if (len > sl + (size_t)(base - path) &&
		    strcmp(path + len - sl, suffix) == 0)
			snprintf(out, cap, "%.*s", (int)(len - sl), path);
		else
			snprintf(out, cap, "%s%s", path, ext);
		return;
	}
	const char *dot = strrchr(base, '.');
	size_t stem = dot && dot != base ? (size_t)(dot - path) : len;
	snprintf(out, cap, "%.*s%s", (int)stem, path, ext);
	if (strcmp(out, path) == 0)
		snprintf(out, cap, "%.*s-converted%s", (int)stem, path, ext);
}

/* The createType of descriptor text WIN[0..n) into OUT, keeping only the
 * characters a createType has; "" when there is none. */
static void probe_create_type(const uint8_t *win, size_t n, char *out, size_t cap)
{
	out[0] = '\0';
	size_t i = 0;
	while (i < n) {
		size_t eol = i;
		while (eol < n && win[eol] != '\n')
			eol++;
		size_t p = i;
		while (p < eol && (win[p] == ' ' || win[p] == '\t'))
			p++;
		if (eol - p >= 10 && memcmp(win + p, "createType", 10) == 0) {
			p += 10;
			while (p < eol && (win[p] == ' ' || win[p] == '\t'))
				p++;
			if (p < eol && win[p] == '=') {
				p++;
				while (p < eol && (win[p] == ' ' || win[p] == '\t' || win[p] == '"'))
					p++;
				size_t o = 0;
				while (p < eol && o + 1 < cap &&
				       (win[p] == '_' || win[p] == '-' ||
					(win[p] >= '0' && win[p] <= '9') ||
					(win[p] >= 'a' && win[p] <= 'z') ||
					(win[p] >= 'A' && win[p] <= 'Z')))
					out[o++] = (char)win[p++];
				out[o] = '\0';
				return;
			}
		}
		i = eol + 1;
	}
}

/* The one-line refusal for SIG: what the file is, where its signature
 * is, and the command that makes something boxwright reads.  Returns
 * BW_EUNSUPPORTED. */
static int probe_refuse(struct bw_disk *d, const struct probe_sig *sig,
			const uint8_t *win, size_t n, struct bw_error *err)
{
	char in[400], out_name[400], out[400];
	probe_shell_word(d->path, in, sizeof in);
	unsigned long long at = sig->in_tail ? d->file_size - PROBE_SECTOR + sig->off
					     : sig->off;
	switch (sig->kind) {
	case PROBE_IMAGE:
		probe_out_name(d->path, ".vhd", NULL, out_name, sizeof out_name);
		probe_shell_word(out_name, out, sizeof out);
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "%s (%s at offset %llu): boxwright does not read %s; convert it first: qemu-img convert -O vpc %s %s",
				 sig->what, sig->shown, at, sig->format, in, out);
	case PROBE_VMDK_DESC: {
		char type[64];
		probe_create_type(win, n, type, sizeof type);
		probe_out_name(d->path, ".vhd", NULL, out_name, sizeof out_name);
		probe_shell_word(out_name, out, sizeof out);
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "%s (%s%s%s): its data lives in separate extent files, which boxwright does not read (it reads single-file monolithicSparse and streamOptimized VMDKs); convert it first: qemu-img convert -O vpc %s %s",
				 sig->what, *type ? "createType \"" : "no createType",
				 type, *type ? "\"" : "", in, out);
	}
	case PROBE_COMPRESSED:
		probe_out_name(d->path, ".img", sig->suffix, out_name, sizeof out_name);
		probe_shell_word(out_name, out, sizeof out);
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "%s (%s at offset %llu): boxwright reads disk images, not %s files; decompress it first: %s -dc %s > %s",
				 sig->what, sig->shown, at, sig->format, sig->tool, in, out);
	case PROBE_ARCHIVE:
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "%s (%s at offset %llu): boxwright reads disk images, not %s archives; extract the disk image from it first: %s %s",
				 sig->what, sig->shown, at, sig->format, sig->tool, in);
	case PROBE_MEDIA:
		return bw_seterr(err, BW_EUNSUPPORTED, d->path,
				 "%s (%s at offset %llu): boxwright reads hard-disk images, not installation media; make a disk image from it first (New-NanoServerImage for Nano Server)",
				 sig->what, sig->shown, at);
	}
	return bw_seterr(err, BW_EUNSUPPORTED, d->path, "%s", sig->what);
}

int bw_disk_probe_foreign(struct bw_disk *d, const uint8_t *tail,
			  struct bw_error *err)
{
	size_t n = d->file_size < PROBE_WINDOW ? (size_t)d->file_size : PROBE_WINDOW;
	if (n == 0)
		return 0;
	uint8_t *win = malloc(n);
	if (!win)
		return bw_seterr(err, BW_ENOMEM, d->path, "out of memory");
	int r = bw_disk_read_file(d, win, n, 0, "first bytes", err);
	if (r == 0) {
		for (size_t i = 0; i < sizeof probe_table / sizeof probe_table[0]; i++) {
			if (probe_match(&probe_table[i], win, n, tail)) {
				r = probe_refuse(d, &probe_table[i], win, n, err);
				break;
			}
		}
	}
	free(win);
	return r;
}
