/*
 * The libvirt box (FORMATS.md "Other Vagrant providers", "qcow2"), as
 * vagrant-libvirt 0.11 reads it (lib/vagrant-libvirt/action/
 * handle_box_image.rb, box format v1): box.img, which must be qcow2
 * (verify_box_format), and metadata.json {"provider": "libvirt",
 * "format": "qcow2", "virtual_size": N} with N in GiB (ByteNumber.from_GB:
 * the capacity of the storage-pool volume box.img is uploaded into as is).
 * A size that is not whole GiB is rounded up: the volume may be larger
 * than the image, never smaller.
 *
 * Our disk layer writes qcow2 but does not read it, so the header is
 * checked here, as qemu's block/qcow2.c checks it at open: the magic, the
 * version, the header length, cluster_bits within qemu's limits, and the
 * features that would make box.img not stand alone (a backing file, an
 * external data file) or not be trustworthy (dirty, corrupt, encrypted).
 * The caller wrote the file with BW_WRITE_QCOW2 a moment ago, so this is
 * a guard against a wrong path, not a full validation: `qemu-img check`
 * in tests/e2e/box-libvirt.sh is that.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "box/box_internal.h"
#include "common/bytes.h"

/* qcow2 header fields, big-endian (qemu docs/interop/qcow2.txt,
 * "Header"). */
#define QCOW2_MAGIC              0x514649fbu   /* "QFI\xfb" */
#define QCOW2_OFF_MAGIC          0
#define QCOW2_OFF_VERSION        4
#define QCOW2_OFF_BACKING_OFFSET 8
#define QCOW2_OFF_CLUSTER_BITS   20
#define QCOW2_OFF_SIZE           24
#define QCOW2_OFF_CRYPT_METHOD   32
#define QCOW2_V2_HEADER_LEN      72
/* version 3 additions */
#define QCOW2_OFF_INCOMPAT       72
#define QCOW2_OFF_HEADER_LENGTH  100
#define QCOW2_V3_HEADER_LEN      104

/* Incompatible feature bits (qcow2.txt, bytes 72-79). */
#define QCOW2_INCOMPAT_DIRTY     (UINT64_C(1) << 0)
#define QCOW2_INCOMPAT_CORRUPT   (UINT64_C(1) << 1)
#define QCOW2_INCOMPAT_DATA_FILE (UINT64_C(1) << 2)
#define QCOW2_INCOMPAT_COMPRESSION_TYPE (UINT64_C(1) << 3)
#define QCOW2_INCOMPAT_EXTL2     (UINT64_C(1) << 4)
#define QCOW2_INCOMPAT_KNOWN     ((UINT64_C(1) << 5) - 1)

/* qemu's limits on cluster_bits (block/qcow2.h MIN/MAX_CLUSTER_BITS). */
#define QCOW2_MIN_CLUSTER_BITS   9
#define QCOW2_MAX_CLUSTER_BITS   21

#define BOX_GIB (1ull << 30)

int box_qcow2_check(int fd, const char *path, uint64_t *virtual_size,
		    struct bw_error *err)
{
	uint8_t h[QCOW2_V3_HEADER_LEN];
	size_t got = 0;
	while (got < sizeof h) {
		ssize_t n = pread(fd, h + got, sizeof h - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bw_seterr(err, BW_EIO, path,
					 "reading the qcow2 header: %s",
					 strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got < 4 || bw_get_be32(h + QCOW2_OFF_MAGIC) != QCOW2_MAGIC)
		return bw_seterr(err, BW_EINVAL, path,
				 "a libvirt box needs a qcow2 disk (magic QFI\\xfb at offset 0): this is not one");
	if (got < QCOW2_V2_HEADER_LEN)
		return bw_seterr(err, BW_EFORMAT, path,
				 "offset %d: qcow2 header: expected %d bytes, the file holds %zu", 0,
				    QCOW2_V2_HEADER_LEN, got);
	uint32_t version = bw_get_be32(h + QCOW2_OFF_VERSION);
	if (version != 2 && version != 3)
		return bw_seterr(err, BW_EUNSUPPORTED, path,
				 "offset %d: qcow2 version: expected 2 or 3, found %" PRIu32, QCOW2_OFF_VERSION,
				    version);
	uint32_t cluster_bits = bw_get_be32(h + QCOW2_OFF_CLUSTER_BITS);
	if (cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return bw_seterr(err, BW_EFORMAT, path,
				 "offset %d: qcow2 cluster_bits: expected %d to %d, found %" PRIu32, QCOW2_OFF_CLUSTER_BITS,
				    QCOW2_MIN_CLUSTER_BITS,
				    QCOW2_MAX_CLUSTER_BITS, cluster_bits);
	uint64_t size = bw_get_be64(h + QCOW2_OFF_SIZE);
	if (size == 0)
		return bw_seterr(err, BW_EFORMAT, path,
				 "offset %d: qcow2 virtual size is 0", QCOW2_OFF_SIZE);
	uint32_t crypt = bw_get_be32(h + QCOW2_OFF_CRYPT_METHOD);
	if (crypt != 0)
		return bw_seterr(err, BW_EUNSUPPORTED, path,
				 "offset %d: qcow2 encryption method %" PRIu32 ": a box image must not be encrypted", QCOW2_OFF_CRYPT_METHOD,
				    crypt);
	if (bw_get_be64(h + QCOW2_OFF_BACKING_OFFSET) != 0)
		return bw_seterr(err, BW_EINVAL, path,
				 "offset %d: the qcow2 has a backing file: box.img must stand alone (qemu-img convert it first)", QCOW2_OFF_BACKING_OFFSET);
	if (version == 3) {
		if (got < QCOW2_V3_HEADER_LEN)
			return bw_seterr(err, BW_EFORMAT, path,
				 "offset %d: qcow2 version 3 header: expected %d bytes, the file holds %zu", 0,
					    QCOW2_V3_HEADER_LEN, got);
		uint32_t hlen = bw_get_be32(h + QCOW2_OFF_HEADER_LENGTH);
		if (hlen < QCOW2_V3_HEADER_LEN)
			return bw_seterr(err, BW_EFORMAT, path,
				 "offset %d: qcow2 header_length: expected at least %d, found %" PRIu32, QCOW2_OFF_HEADER_LENGTH,
					    QCOW2_V3_HEADER_LEN, hlen);
		uint64_t incompat = bw_get_be64(h + QCOW2_OFF_INCOMPAT);
		if (incompat & ~QCOW2_INCOMPAT_KNOWN)
			return bw_seterr(err, BW_EUNSUPPORTED, path,
				 "offset %d: qcow2 incompatible features 0x%" PRIx64 " that boxwright does not know", QCOW2_OFF_INCOMPAT,
					    incompat & ~QCOW2_INCOMPAT_KNOWN);
		if (incompat & QCOW2_INCOMPAT_CORRUPT)
			return bw_seterr(err, BW_EFORMAT, path,
				 "offset %d: the qcow2 is marked corrupt", QCOW2_OFF_INCOMPAT);
		if (incompat & QCOW2_INCOMPAT_DIRTY)
			return bw_seterr(err, BW_EINVAL, path,
				 "offset %d: the qcow2 is dirty (not closed cleanly): qemu-img check -r all it first", QCOW2_OFF_INCOMPAT);
		if (incompat & QCOW2_INCOMPAT_DATA_FILE)
			return bw_seterr(err, BW_EINVAL, path,
				 "offset %d: the qcow2 keeps its data in an external file: box.img must stand alone", QCOW2_OFF_INCOMPAT);
	}
	*virtual_size = size;
	return 0;
}

int box_metadata_text(const struct box_resolved *r, uint64_t capacity,
		      char **out, struct bw_error *err)
{
	struct box_buf b;
	box_buf_init(&b);
	if (r->provider == BW_BOX_LIBVIRT) {
		if (capacity == 0)
			return bw_seterr(err, BW_EINVAL, NULL,
					 "metadata.json: the libvirt box needs the disk's virtual size");
		/* Rounded up without overflow for any 64-bit size. */
		uint64_t gib = capacity / BOX_GIB + (capacity % BOX_GIB != 0);
		box_buf_printf(&b,
			"{\"provider\":\"libvirt\",\"format\":\"qcow2\",\"virtual_size\":%" PRIu64 "}\n",
			gib);
	} else {
		/* virtualbox, hyperv, vmware_desktop: the provider alone */
		box_buf_printf(&b, "{\"provider\":\"%s\"}\n",
			       bw_box_provider_name(r->provider));
	}
	return box_buf_finish(&b, out, "metadata.json", err);
}

int bw_box_metadata(const struct bw_box_opts *o, char **out,
		    struct bw_error *err)
{
	struct box_resolved r;
	int rc = box_resolve(o, &r, err);
	if (rc)
		return rc;
	return box_metadata_text(&r, o->disk_capacity, out, err);
}
