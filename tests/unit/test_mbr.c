/* MBR parse/encode: round trip, and each rejection with its message. */
#include <string.h>

#include "boxwright/part.h"
#include "check.h"
#include "common/bytes.h"

static void entry(uint8_t *s, int i, uint8_t status, uint8_t type, uint32_t start, uint32_t n)
{
	uint8_t *e = s + 0x1BE + 16 * i;
	e[0] = status;
	e[4] = type;
	bw_put_le32(e + 8, start);
	bw_put_le32(e + 12, n);
}

static struct bw_mbr table(uint32_t sig)
{
	struct bw_mbr m;
	memset(&m, 0, sizeof m);
	m.boot_code[0] = 0xEB;
	m.signature = sig;
	return m;
}

/* The lookups and build's layout plan (plan.c). */
static void test_plan(void)
{
	struct bw_error e;
	struct bw_mbr_plan p;
	const uint64_t G = 1ull << 30;

	/* one partition at LBA 63: moves to 1 MiB, fills the disk, active */
	struct bw_mbr m = table(0x11223344);
	m.part[0] = (struct bw_mbr_entry){ 0x00, 0x07, 63, 1000000 };
	CHECK(bw_mbr_active(&m) == 0);
	m.part[0].status = 0x80;
	CHECK(bw_mbr_active(&m) == 1);
	CHECK(bw_mbr_part_at(&m, 63 * 512) == 1 && bw_mbr_part_at(&m, 2048 * 512) == 0);
	CHECK(bw_mbr_plan(&m, 1, 1, 8 * G, "x", &p, &e) == 0);
	CHECK_EQ_U64(p.new_offset[0], 1 << 20);
	CHECK_EQ_U64(p.new_size[0], 8 * G - (1 << 20));
	CHECK_EQ_U64(p.old_offset[0], 63 * 512);
	CHECK(p.mbr.part[0].status == 0x80 && p.mbr.signature == 0x11223344 && p.mbr.boot_code[0] == 0xEB);
	CHECK_EQ_U64(p.mbr.part[0].sectors, (8 * G >> 9) - 2048);

	/* System Reserved at 2048 and Windows at 206848: both stay, Windows grows */
	m = table(1);
	m.part[0] = (struct bw_mbr_entry){ 0x80, 0x07, 2048, 204800 };
	m.part[1] = (struct bw_mbr_entry){ 0x00, 0x07, 206848, 1000000 };
	CHECK(bw_mbr_plan(&m, 2, 1, 4 * G, "x", &p, &e) == 0);
	CHECK_EQ_U64(p.new_offset[0], 2048 * 512);
	CHECK_EQ_U64(p.new_size[0], 204800 * 512);
	CHECK_EQ_U64(p.new_offset[1], 206848ull * 512);
	CHECK_EQ_U64(p.new_offset[1] + p.new_size[1], 4 * G);
	CHECK(p.mbr.part[0].status == 0x80 && p.mbr.part[1].status == 0x00);

	/* at LBA 63: both move, Windows to the next 1 MiB after the boot partition */
	m.part[0] = (struct bw_mbr_entry){ 0x80, 0x07, 63, 204737 };
	m.part[1] = (struct bw_mbr_entry){ 0x00, 0x07, 204800, 1000000 };
	CHECK(bw_mbr_plan(&m, 2, 1, 4 * G, "x", &p, &e) == 0);
	CHECK_EQ_U64(p.new_offset[0], 1 << 20);
	CHECK_EQ_U64(p.new_offset[1], 206848ull * 512);   /* 2048 + 204737 = 206785, up to 206848 */
	CHECK(p.new_offset[1] % (1 << 20) == 0);

	/* an aligned Windows behind a moved boot partition moves too */
	m.part[0] = (struct bw_mbr_entry){ 0x80, 0x07, 63, 100000 };
	m.part[1] = (struct bw_mbr_entry){ 0x00, 0x07, 102400, 1000000 };
	CHECK(bw_mbr_plan(&m, 2, 1, 4 * G, "x", &p, &e) == 0);
	CHECK_EQ_U64(p.new_offset[1], 102400ull * 512);   /* 2048 + 100000 -> 102400: same place */

	/* refused: a third partition, the boot partition after Windows, a
	 * disk too small, past 2 TiB */
	m.part[2] = (struct bw_mbr_entry){ 0x00, 0x0C, 3000000, 1000 };
	CHECK(bw_mbr_plan(&m, 2, 1, 4 * G, "x", &p, &e) == BW_EUNSUPPORTED);
	CHECK(strstr(e.msg, "partition 3") != NULL);
	m.part[2] = (struct bw_mbr_entry){ 0 };
	m.part[0] = (struct bw_mbr_entry){ 0x80, 0x07, 3000000, 204800 };
	m.part[1] = (struct bw_mbr_entry){ 0x00, 0x07, 2048, 1000000 };
	CHECK(bw_mbr_plan(&m, 2, 1, 4 * G, "x", &p, &e) == BW_EUNSUPPORTED);
	m.part[0] = (struct bw_mbr_entry){ 0x80, 0x07, 2048, 204800 };
	m.part[1] = (struct bw_mbr_entry){ 0x00, 0x07, 206848, 1000000 };
	CHECK(bw_mbr_plan(&m, 2, 1, 100u << 20, "x", &p, &e) == BW_EINVAL);
	CHECK(bw_mbr_plan(&m, 2, 1, 3 * 1024 * G, "x", &p, &e) == BW_EINVAL);
	CHECK(bw_mbr_plan(&m, 3, 1, 4 * G, "x", &p, &e) == BW_EINVAL);
}

/* build's GPT plan: before Windows kept, Windows from its start, after
 * it (Recovery) to the end, 1 MiB aligned, refusals. */
static void test_gpt_plan(void)
{
	struct bw_gpt_part parts[4] = {
		{ .index = 0, .first_lba = 2048, .last_lba = 206847 },       /* ESP */
		{ .index = 1, .first_lba = 206848, .last_lba = 239615 },     /* MSR */
		{ .index = 2, .first_lba = 239616, .last_lba = 7362559 },    /* Windows */
		{ .index = 3, .first_lba = 7362560, .last_lba = 8386559 },   /* Recovery */
	};
	struct bw_gpt g = { .sector_size = 512, .entry_count = 128, .entry_size = 128,
			    .first_usable = 34, .nparts = 4, .part = parts };
	struct bw_gpt_plan p;
	struct bw_error e;
	const uint64_t G = 1ull << 30;
	CHECK(bw_gpt_plan(&g, 2, 8 * G, "x", &p, &e) == 0);
	uint64_t last_usable = 8 * G / 512 - 34;
	CHECK_EQ_U64(p.range[0].first_lba, 2048);
	CHECK_EQ_U64(p.range[1].last_lba, 239615);
	CHECK_EQ_U64(p.range[2].first_lba, 239616);
	CHECK_EQ_U64(p.range[3].last_lba - p.range[3].first_lba, 8386559 - 7362560);
	CHECK(p.range[3].first_lba % 2048 == 0 && p.range[3].last_lba <= last_usable &&
	      p.range[3].last_lba + 2048 > last_usable);
	CHECK_EQ_U64(p.range[2].last_lba + 1, p.range[3].first_lba);
	bw_gpt_plan_free(&p);
	/* no partition after Windows: it fills to the last usable LBA */
	g.nparts = 3;
	CHECK(bw_gpt_plan(&g, 2, 8 * G, "x", &p, &e) == 0);
	CHECK_EQ_U64(p.range[2].last_lba, last_usable);
	bw_gpt_plan_free(&p);
	g.nparts = 4;
	/* too small for Recovery and a useful Windows; not whole sectors */
	CHECK(bw_gpt_plan(&g, 2, 600u << 20, "x", &p, &e) == BW_EINVAL);
	CHECK(bw_gpt_plan(&g, 2, 8 * G + 1, "x", &p, &e) == BW_EINVAL);
	CHECK(bw_gpt_plan(&g, 7, 8 * G, "x", &p, &e) == BW_EINVAL);
	bw_gpt_plan_free(&p);
}

int main(void)
{
	test_plan();
	test_gpt_plan();
	const uint64_t disk = 4ull << 30;              /* 8388608 sectors */
	uint8_t s[512], t[512];
	struct bw_mbr m;
	struct bw_error e;

	memset(s, 0, sizeof s);
	for (int i = 0; i < 440; i++)
		s[i] = (uint8_t)(i * 7 + 3);
	bw_put_le32(s + 0x1B8, 0x5A3C9E17);
	entry(s, 0, 0x80, 0x07, 2048, 8388608 - 2048);
	s[510] = 0x55; s[511] = 0xAA;
	CHECK(bw_mbr_parse(s, disk, "d.img", &m, &e) == 0);
	CHECK_EQ_U64(m.signature, 0x5A3C9E17);
	CHECK_EQ_U64(m.part[0].lba_start, 2048);
	CHECK_EQ_U64(m.part[0].sectors, 8388608 - 2048);
	CHECK(m.part[0].status == 0x80 && m.part[0].type == 7);
	CHECK(m.part[1].type == 0);
	CHECK(memcmp(m.boot_code, s, 440) == 0);

	/* Encode keeps boot code, signature, entries and the mark. */
	bw_mbr_encode(&m, t);
	CHECK(memcmp(t, s, 440) == 0);
	CHECK(bw_get_le32(t + 0x1B8) == 0x5A3C9E17);
	CHECK(t[510] == 0x55 && t[511] == 0xAA);
	struct bw_mbr m2;
	CHECK(bw_mbr_parse(t, disk, "d.img", &m2, &e) == 0);
	CHECK(memcmp(&m, &m2, sizeof m) == 0);

	/* No 55AA. */
	memcpy(t, s, 512); t[511] = 0;
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == BW_EFORMAT);
	CHECK(strstr(e.msg, "d.img: no MBR: offset 510 expected 55 aa") != NULL);

	/* Partition past the end of the disk, by one sector. */
	memcpy(t, s, 512); entry(t, 0, 0x80, 0x07, 2048, 8388608 - 2047);
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == BW_EFORMAT);
	CHECK(strstr(e.msg, "past the end of the disk") != NULL);

	/* Start + count overflowing 32 bits must not wrap. */
	memcpy(t, s, 512); entry(t, 0, 0x00, 0x07, 0xFFFFFF00u, 0x200);
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == BW_EFORMAT);

	/* Bad status byte. */
	memcpy(t, s, 512); entry(t, 0, 0x81, 0x07, 2048, 100);
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == BW_EFORMAT);
	CHECK(strstr(e.msg, "status 0x81") != NULL);

	/* Overlap. */
	memcpy(t, s, 512); entry(t, 0, 0x80, 0x07, 2048, 4096); entry(t, 1, 0, 0x07, 4000, 100);
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == BW_EFORMAT);
	CHECK(strstr(e.msg, "overlap") != NULL);

	/* Zero-length used entry. */
	memcpy(t, s, 512); entry(t, 1, 0, 0x07, 0, 0);
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == BW_EFORMAT);

	/* GPT protective MBR is refused as unsupported, not as corrupt. */
	memcpy(t, s, 512); entry(t, 0, 0, 0xEE, 1, 8388607);
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == BW_EUNSUPPORTED);
	CHECK(strstr(e.msg, "GPT") != NULL);

	/* Two adjacent partitions are fine. */
	memcpy(t, s, 512); entry(t, 0, 0x80, 0x07, 2048, 204800); entry(t, 1, 0, 0x07, 206848, 100000);
	CHECK(bw_mbr_parse(t, disk, "d.img", &m, &e) == 0);
	return check_done("test_mbr");
}
