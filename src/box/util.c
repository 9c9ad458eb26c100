/*
 * Box module helpers: text buffer, escaping for XML / JSON / Ruby,
 * UTF-8 checks, random UUIDs and MACs, and the resolution of
 * bw_box_opts (defaults of include/boxwright/box.h, limits checked).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "box/box_internal.h"
#include "common/random.h"
#include "common/hex.h"

/* ---- text buffer ------------------------------------------------------ */

void box_buf_init(struct box_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}

void box_buf_free(struct box_buf *b)
{
	free(b->data);
	box_buf_init(b);
}

/* Room for N more bytes plus the terminating NUL. */
static int box_buf_reserve(struct box_buf *b, size_t n)
{
	if (b->failed)
		return -1;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = 1;
		return -1;
	}
	size_t need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < need)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p) {
		b->failed = 1;
		return -1;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void box_buf_add(struct box_buf *b, const char *s, size_t n)
{
	if (box_buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void box_buf_puts(struct box_buf *b, const char *s)
{
	box_buf_add(b, s, strlen(s));
}

void box_buf_printf(struct box_buf *b, const char *fmt, ...)
{
	if (b->failed)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if (box_buf_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void box_buf_xml(struct box_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':  box_buf_puts(b, "&amp;"); break;
		case '<':  box_buf_puts(b, "&lt;"); break;
		case '>':  box_buf_puts(b, "&gt;"); break;
		case '"':  box_buf_puts(b, "&quot;"); break;
		case '\'': box_buf_puts(b, "&apos;"); break;
		default:   box_buf_add(b, s, 1); break;
		}
	}
}

void box_buf_json_str(struct box_buf *b, const char *s)
{
	box_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			box_buf_add(b, e, 2);
		} else if (c < 0x20 || c == 0x7F) {
			box_buf_printf(b, "\\u%04x", c);
		} else {
			box_buf_add(b, s, 1);
		}
	}
	box_buf_add(b, "\"", 1);
}

void box_buf_ruby_str(struct box_buf *b, const char *s)
{
	/* In a Ruby "..." literal, \ and " end or escape, and # starts an
	 * interpolation (#{...}, #@var, #$var): all three are escaped.
	 * Bytes >= 0x80 pass through (the Vagrantfile is UTF-8, Ruby's
	 * default source encoding). */
	box_buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\' || c == '#') {
			char e[2] = { '\\', (char)c };
			box_buf_add(b, e, 2);
		} else if (c < 0x20 || c == 0x7F) {
			box_buf_printf(b, "\\x%02X", c);
		} else {
			box_buf_add(b, s, 1);
		}
	}
	box_buf_add(b, "\"", 1);
}

int box_buf_finish(struct box_buf *b, char **out, const char *what,
		   struct bw_error *err)
{
	if (!b->failed && !b->data)
		box_buf_add(b, "", 0);
	if (b->failed) {
		box_buf_free(b);
		return bw_seterr(err, BW_ENOMEM, NULL, "%s: out of memory", what);
	}
	*out = b->data;
	box_buf_init(b);
	return 0;
}

/* ---- identities -------------------------------------------------------- */

int box_random(void *buf, size_t n, struct bw_error *err)
{
	if (bw_random_bytes(buf, n) != 0)
		return bw_seterr(err, BW_EIO, NULL, "cannot get random bytes: %s", strerror(errno));
	return 0;
}

int box_uuid_random(char out[37], struct bw_error *err)
{
	if (bw_uuid_random(out) != 0)
		return bw_seterr(err, BW_EIO, NULL, "cannot get random bytes: %s", strerror(errno));
	return 0;
}

int box_mac_random(char out[13], struct bw_error *err)
{
	uint8_t m[6];
	int r = box_random(m, sizeof m, err);
	if (r)
		return r;
	m[0] = (uint8_t)((m[0] & 0xFC) | 0x02);
	snprintf(out, 13, "%02X%02X%02X%02X%02X%02X",
		 m[0], m[1], m[2], m[3], m[4], m[5]);
	return 0;
}

int box_mac_parse(const char *s, char out[13])
{
	if (!s || strlen(s) != 12)
		return 0;
	int nonzero = 0;
	for (int i = 0; i < 12; i++) {
		int v = bw_hex_digit(s[i]);
		if (v < 0)
			return 0;
		nonzero |= v;
		out[i] = "0123456789ABCDEF"[v];
	}
	out[12] = '\0';
	/* Bit 0 of the first octet is the group bit: VirtualBox refuses a
	 * multicast MACAddress (NetworkAdapter::setMACAddress). */
	return nonzero && !(bw_hex_digit(s[1]) & 1);
}

/* ---- strings ------------------------------------------------------------ */

int box_check_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	if (n > max)
		return 0;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7F)
				return 0;
			i++;
			continue;
		}
		size_t len;
		unsigned cp, min;
		if ((c & 0xE0) == 0xC0) {
			len = 2; cp = c & 0x1F; min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3; cp = c & 0x0F; min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4; cp = c & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if (len > n - i)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		/* C1 controls are as unwelcome in XML 1.0 text as C0 ones,
		 * and U+FFFE / U+FFFF are not XML 1.0 Chars at all. */
		if ((cp >= 0x80 && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF)
			return 0;
		i += len;
	}
	return 1;
}

int box_resolve(const struct bw_box_opts *o, struct box_resolved *r,
		struct bw_error *err)
{
	memset(r, 0, sizeof *r);
	r->provider = o->provider;
	if (!bw_box_provider_name(o->provider))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "box provider %d: expected virtualbox, libvirt, hyperv or vmware_desktop",
				 (int)o->provider);
	if (o->disk_bus != BW_BOX_BUS_IDE && o->disk_bus != BW_BOX_BUS_SATA)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "disk bus %d: expected IDE or SATA",
				 (int)o->disk_bus);
	r->disk_bus = o->disk_bus;
	r->firmware_efi = o->firmware_efi != 0;
	r->winrm_plaintext = o->winrm_plaintext != 0;
	if (o->disk_path && o->vmdk_path &&
	    strcmp(o->disk_path, o->vmdk_path) != 0)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "disk_path and vmdk_path name different disks (vmdk_path is the older name of disk_path)");
	r->disk_path = o->disk_path ? o->disk_path : o->vmdk_path;
	/* time_t is 64-bit on every target we build for; a negative mtime
	 * is a caller's mistake, not a date before 1970 worth packing. */
	if (o->mtime < 0)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "box mtime %" PRId64 ": expected seconds since the epoch, or 0 for now",
				 o->mtime);
	r->mtime = o->mtime || o->mtime_set ? (time_t)o->mtime : time(NULL);
	r->vm_name = o->vm_name ? o->vm_name : BW_BOX_DEFAULT_VM_NAME;
	r->memory_mb = o->memory_mb ? o->memory_mb : BW_BOX_DEFAULT_MEMORY_MB;
	r->cpus = o->cpus ? o->cpus : BW_BOX_DEFAULT_CPUS;
	r->user = o->winrm_user ? o->winrm_user : BW_BOX_DEFAULT_USER;
	r->password = o->winrm_password ? o->winrm_password
					: BW_BOX_DEFAULT_PASSWORD;

	/* The VM name is the OVF VirtualSystem id and the vbox:Machine name,
	 * which VirtualBox also makes the machine's folder name on import:
	 * no path separators.  No double quote either: Vagrant's import
	 * reads `Suggested VM name "(.+?)"` from VBoxManage's dry run
	 * (plugins/providers/virtualbox/driver/version_5_0.rb), and a quote
	 * would cut that name short.  Everything else is escaped. */
	if (!r->vm_name[0] || !box_check_text(r->vm_name, BW_BOX_MAX_NAME) ||
	    strpbrk(r->vm_name, "/\\\""))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "VM name must be 1 to %d bytes of UTF-8 text without control characters, '/', '\\' or '\"'",
				 BW_BOX_MAX_NAME);
	/* Hyper-V and VMware boxes carry files named after the VM, which
	 * land on Windows hosts too: none of the characters Windows
	 * forbids in a file name, no trailing dot or space, and for the
	 * .vmx's quoted values no '|' (VMware's escape character). */
	size_t nl = strlen(r->vm_name);
	if ((r->provider == BW_BOX_HYPERV || r->provider == BW_BOX_VMWARE) &&
	    (strpbrk(r->vm_name, ":*?<>|") || r->vm_name[nl - 1] == '.' ||
	     r->vm_name[nl - 1] == ' '))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "VM name \"%.64s\": a %s box names files after it, and Windows file names hold no ':*?<>|' and end in no dot or space",
				 r->vm_name, bw_box_provider_name(r->provider));
	if (r->cpus > BW_BOX_MAX_CPUS)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "%u CPUs: VirtualBox allows 1 to %u", r->cpus,
				 BW_BOX_MAX_CPUS);
	if (r->memory_mb < BW_BOX_MIN_MEMORY_MB ||
	    r->memory_mb > BW_BOX_MAX_MEMORY_MB)
		return bw_seterr(err, BW_EINVAL, NULL,
				 "%u MB of memory: VirtualBox allows %u to %u",
				 r->memory_mb, BW_BOX_MIN_MEMORY_MB,
				 BW_BOX_MAX_MEMORY_MB);
	if (!r->user[0] || !box_check_text(r->user, BW_BOX_MAX_CREDENTIAL))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "WinRM user name must be 1 to %d bytes of UTF-8 text without control characters",
				 BW_BOX_MAX_CREDENTIAL);
	if (!box_check_text(r->password, BW_BOX_MAX_CREDENTIAL))
		return bw_seterr(err, BW_EINVAL, NULL,
				 "WinRM password must be at most %d bytes of UTF-8 text without control characters",
				 BW_BOX_MAX_CREDENTIAL);
	if (o->hardware_uuid) {
		if (!bw_uuid_parse(o->hardware_uuid, r->hardware_uuid))
			return bw_seterr(err, BW_EINVAL, NULL,
					 "hardware UUID \"%.64s\" is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex, not all zero)",
					 o->hardware_uuid);
		r->has_hardware_uuid = 1;
	}
	if (r->provider != BW_BOX_VIRTUALBOX)
		return 0;   /* no MAC: vagrant-libvirt draws one per domain */
	if (o->mac) {
		if (!box_mac_parse(o->mac, r->mac))
			return bw_seterr(err, BW_EINVAL, NULL,
					 "MAC address \"%.64s\" is not 12 hex digits of a unicast, non-zero address",
					 o->mac);
		return 0;
	}
	return box_mac_random(r->mac, err);
}

/* ---- providers ---------------------------------------------------------- */

const char *bw_box_provider_name(enum bw_box_provider p)
{
	switch (p) {
	case BW_BOX_VIRTUALBOX: return "virtualbox";
	case BW_BOX_LIBVIRT:    return "libvirt";
	case BW_BOX_HYPERV:     return "hyperv";
	case BW_BOX_VMWARE:     return "vmware_desktop";
	}
	return NULL;
}

int bw_box_provider_parse(const char *name, enum bw_box_provider *out,
			  struct bw_error *err)
{
	static const enum bw_box_provider all[] = { BW_BOX_VIRTUALBOX,
						    BW_BOX_LIBVIRT,
						    BW_BOX_HYPERV,
						    BW_BOX_VMWARE };
	for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(name, bw_box_provider_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return bw_seterr(err, BW_EINVAL, NULL,
			 "provider \"%.64s\": expected virtualbox, libvirt, hyperv or vmware_desktop",
			 name ? name : "");
}
