/*
 * gpt_dump IMAGE: print the GPT as bw_gpt_parse sees it, one fact a line,
 * GUIDs in sgdisk's upper-case text form, so that tests/e2e/gpt.sh can
 * compare it with `sgdisk -p` / `sgdisk -i N`.
 *
 * gpt_dump --grow IMAGE [N:FIRST:LAST]...: IMAGE holds a GPT written for a
 * smaller disk and has since been made larger (cp + truncate): parse it,
 * encode the table for the file's size with partition N (sgdisk's number)
 * at FIRST..LAST (LAST may be "max": the new last usable LBA), and write
 * the runs bw_gpt_encode gives into IMAGE.  Partition data is not moved.
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boxwright/disk.h"
#include "boxwright/part.h"
#include "boxwright/win.h"

static void guid_text(const uint8_t g[16], char out[37])
{
	char t[39];
	bw_guid_format(g, t);
	for (int i = 0; i < 36; i++)
		out[i] = (char)toupper((unsigned char)t[i + 1]);
	out[36] = '\0';
}

static const char *kind_name(enum bw_gpt_kind k)
{
	switch (k) {
	case BW_GPT_KIND_ESP: return "esp";
	case BW_GPT_KIND_MSR: return "msr";
	case BW_GPT_KIND_BASIC_DATA: return "basic-data";
	case BW_GPT_KIND_RECOVERY: return "recovery";
	default: return "other";
	}
}

static void dump(const struct bw_gpt *g)
{
	char t[37];
	printf("sector_size %u\n", g->sector_size);
	printf("disk_sectors %" PRIu64 "\n", g->disk_sectors);
	guid_text(g->disk_guid, t);
	printf("disk_guid %s\n", t);
	printf("first_usable %" PRIu64 "\n", g->first_usable);
	printf("last_usable %" PRIu64 "\n", g->last_usable);
	printf("entries %u x %u at %" PRIu64 " and %" PRIu64 "\n", g->entry_count,
	       g->entry_size, g->primary_entries_lba, g->backup_entries_lba);
	printf("backup_lba %" PRIu64 "\n", g->backup_lba);
	printf("flags%s%s%s%s\n", g->flags & BW_GPT_FROM_BACKUP ? " from-backup" : "",
	       g->flags & BW_GPT_BACKUP_BAD ? " backup-bad" : "",
	       g->flags & BW_GPT_BACKUP_NOT_END ? " backup-not-at-end" : "",
	       g->flags & BW_GPT_PMBR_SHORT ? " pmbr-short" : "");
	if (g->damaged.code)
		printf("damaged %s\n", g->damaged.msg);
	for (size_t i = 0; i < g->nparts; i++) {
		const struct bw_gpt_part *p = &g->part[i];
		char u[37];
		guid_text(p->type_guid, t);
		guid_text(p->unique_guid, u);
		printf("part %u %" PRIu64 " %" PRIu64 " %s %s %016" PRIX64 " %s %s\n",
		       p->index + 1, p->first_lba, p->last_lba, t, u, p->attributes,
		       kind_name(bw_gpt_classify(p->type_guid)), p->name);
	}
}

static int grow(const char *path, struct bw_gpt *g, int argc, char **argv)
{
	uint64_t size = g->disk_sectors * g->sector_size;
	uint64_t asect = ((uint64_t)g->entry_count * g->entry_size + g->sector_size - 1) /
			 g->sector_size;
	uint64_t max = g->disk_sectors - 2 - asect;
	struct bw_gpt_range *r = calloc(g->nparts ? g->nparts : 1, sizeof *r);
	if (!r)
		return 1;
	for (size_t i = 0; i < g->nparts; i++)
		r[i] = (struct bw_gpt_range){ g->part[i].first_lba, g->part[i].last_lba };
	for (int a = 0; a < argc; a++) {
		unsigned n;
		unsigned long long first;
		char last[32];
		if (sscanf(argv[a], "%u:%llu:%31s", &n, &first, last) != 3) {
			fprintf(stderr, "gpt_dump: bad range %s\n", argv[a]);
			return 2;
		}
		size_t i = 0;
		while (i < g->nparts && g->part[i].index + 1 != n)
			i++;
		if (i == g->nparts) {
			fprintf(stderr, "gpt_dump: no partition %u\n", n);
			return 2;
		}
		r[i].first_lba = first;
		r[i].last_lba = strcmp(last, "max") == 0 ? max : strtoull(last, NULL, 10);
	}
	struct bw_gpt_image img;
	struct bw_error e;
	int rc = bw_gpt_encode(g, size, r, &img, &e);
	free(r);
	if (rc) {
		fprintf(stderr, "gpt_dump: %s\n", e.msg);
		return bw_exit_status(rc);
	}
	int fd = open(path, O_WRONLY);
	if (fd < 0) {
		perror(path);
		bw_gpt_image_free(&img);
		return 1;
	}
	for (size_t i = 0; i < img.nruns; i++) {
		size_t len = img.run[i].nsectors * g->sector_size;
		if (pwrite(fd, img.run[i].data, len, (off_t)(img.run[i].lba * g->sector_size)) !=
		    (ssize_t)len) {
			perror(path);
			rc = 1;
		}
		printf("wrote LBA %" PRIu64 " (%zu sectors)\n", img.run[i].lba, img.run[i].nsectors);
	}
	if (close(fd) != 0) {
		perror(path);
		rc = 1;
	}
	bw_gpt_image_free(&img);
	return rc;
}

int main(int argc, char **argv)
{
	int growing = argc >= 2 && strcmp(argv[1], "--grow") == 0;
	if (argc < 2 + growing || (!growing && argc != 2)) {
		fprintf(stderr, "usage: gpt_dump IMAGE | gpt_dump --grow IMAGE [N:FIRST:LAST]...\n");
		return 2;
	}
	const char *path = argv[1 + growing];
	struct bw_disk *d;
	struct bw_error e;
	struct bw_gpt g;
	int r = bw_disk_open(path, &d, &e);
	if (r) {
		fprintf(stderr, "gpt_dump: %s\n", e.msg);
		return bw_exit_status(r);
	}
	r = bw_gpt_parse_disk(d, 0, &g, &e);
	bw_disk_close(d);
	if (r) {
		fprintf(stderr, "gpt_dump: %s\n", e.msg);
		return bw_exit_status(r);
	}
	int rc = growing ? grow(path, &g, argc - 3, argv + 3) : (dump(&g), 0);
	bw_gpt_free(&g);
	return rc;
}
