/*
 * The smallest hive hivex_open accepts, written from nothing (hivex cannot
 * create one): a base block, then one 4 KiB hbin holding the root nk cell,
 * the sk cell that hivex_node_add_child needs to inherit, and one free
 * cell (msuhanov/regf layout).  Shared by the win module's unit tests,
 * which then build their hives with hivex's write API.
 */
#ifndef BW_TESTS_MINHIVE_H
#define BW_TESTS_MINHIVE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/bytes.h"
#include "win/win_internal.h"

#define MH_BASE_LEN 4096
#define MH_BIN_LEN 4096
#define MH_ROOT_CELL 0x20         /* offsets relative to the first hbin */
#define MH_ROOT_CELL_LEN 0x58     /* 4 + nk (0x4C) + "ROOT", 8-aligned */
#define MH_SK_CELL 0x78
#define MH_SD_LEN 80
#define MH_SK_CELL_LEN (4 + 20 + MH_SD_LEN)
#define MH_FREE_CELL (MH_SK_CELL + MH_SK_CELL_LEN)

/* Self-relative security descriptor: owner and group BUILTIN\Administrators,
 * a DACL granting Everyone KEY_ALL_ACCESS, inherited by subkeys. */
static void minhive_sd(uint8_t *sd)
{
	static const uint8_t admins[16] = { 1, 2, 0, 0, 0, 0, 0, 5,
					    0x20, 0, 0, 0, 0x20, 2, 0, 0 };
	static const uint8_t everyone[12] = { 1, 1, 0, 0, 0, 0, 0, 1,
					      0, 0, 0, 0 };
	sd[0] = 1;                              /* revision */
	bw_put_le16(sd + 2, 0x8004);            /* self-relative, DACL present */
	bw_put_le32(sd + 4, 20);                /* owner */
	bw_put_le32(sd + 8, 36);                /* group */
	bw_put_le32(sd + 12, 0);                /* no SACL */
	bw_put_le32(sd + 16, 52);               /* DACL */
	memcpy(sd + 20, admins, 16);
	memcpy(sd + 36, admins, 16);
	uint8_t *acl = sd + 52;
	acl[0] = 2;                             /* ACL revision */
	bw_put_le16(acl + 2, 8 + 20);           /* ACL size */
	bw_put_le16(acl + 4, 1);                /* one ACE */
	uint8_t *ace = acl + 8;
	ace[0] = 0;                             /* ACCESS_ALLOWED_ACE_TYPE */
	ace[1] = 2;                             /* CONTAINER_INHERIT_ACE */
	bw_put_le16(ace + 2, 20);
	bw_put_le32(ace + 4, 0xF003F);          /* KEY_ALL_ACCESS */
	memcpy(ace + 8, everyone, 12);
}

static int minhive_write(const char *path)
{
	static uint8_t f[MH_BASE_LEN + MH_BIN_LEN];
	memset(f, 0, sizeof f);
	uint8_t *b = f;
	memcpy(b, "regf", 4);
	bw_put_le32(b + 0x04, 1);               /* primary sequence */
	bw_put_le32(b + 0x08, 1);               /* secondary sequence */
	bw_put_le32(b + 0x14, 1);               /* major */
	bw_put_le32(b + 0x18, 5);               /* minor */
	bw_put_le32(b + 0x1C, 0);               /* primary file */
	bw_put_le32(b + 0x20, 1);               /* direct memory load */
	bw_put_le32(b + 0x24, MH_ROOT_CELL);
	bw_put_le32(b + 0x28, MH_BIN_LEN);      /* hive bins data size */
	bw_put_le32(b + 0x2C, 1);               /* clustering factor */
	bw_put_le32(b + WIN_REGF_CHECKSUM_OFF, win_regf_checksum(b));

	uint8_t *bin = f + MH_BASE_LEN;
	memcpy(bin, "hbin", 4);
	bw_put_le32(bin + 0x04, 0);             /* offset of this bin */
	bw_put_le32(bin + 0x08, MH_BIN_LEN);

	uint8_t *cell = bin + MH_ROOT_CELL;
	bw_put_le32(cell, (uint32_t)-MH_ROOT_CELL_LEN);
	uint8_t *nk = cell + 4;
	memcpy(nk, "nk", 2);
	bw_put_le16(nk + 0x02, 0x2C);           /* HIVE_ENTRY|NO_DELETE|COMP_NAME */
	bw_put_le32(nk + 0x1C, 0xFFFFFFFF);     /* no subkey list */
	bw_put_le32(nk + 0x20, 0xFFFFFFFF);     /* no volatile subkey list */
	bw_put_le32(nk + 0x28, 0xFFFFFFFF);     /* no value list */
	bw_put_le32(nk + 0x2C, MH_SK_CELL);
	bw_put_le32(nk + 0x30, 0xFFFFFFFF);     /* no class name */
	bw_put_le16(nk + 0x48, 4);
	memcpy(nk + 0x4C, "ROOT", 4);

	cell = bin + MH_SK_CELL;
	bw_put_le32(cell, (uint32_t)-MH_SK_CELL_LEN);
	uint8_t *sk = cell + 4;
	memcpy(sk, "sk", 2);
	bw_put_le32(sk + 0x04, MH_SK_CELL);     /* flink: itself */
	bw_put_le32(sk + 0x08, MH_SK_CELL);     /* blink: itself */
	bw_put_le32(sk + 0x0C, 1);              /* reference count */
	bw_put_le32(sk + 0x10, MH_SD_LEN);
	minhive_sd(sk + 0x14);

	bw_put_le32(bin + MH_FREE_CELL, MH_BIN_LEN - MH_FREE_CELL);

	FILE *fp = fopen(path, "wb");
	if (!fp)
		return -1;
	size_t n = fwrite(f, 1, sizeof f, fp);
	return fclose(fp) == 0 && n == sizeof f ? 0 : -1;
}

#endif
