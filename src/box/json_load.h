/*
 * Reading JSON documents with jansson: the Vagrant box catalog
 * (catalog.c) and batch's manifest lines (src/cli/batch.c).  The one
 * place where jansson's json_error_t becomes a struct bw_error, and where
 * the limits against hostile or broken input are applied.  Internal to
 * boxwright (jansson: libjansson-dev).
 */
#ifndef BW_BOX_JSON_LOAD_H
#define BW_BOX_JSON_LOAD_H

#include <stddef.h>

#include <jansson.h>

#include "boxwright/error.h"

/* Limits, checked on the text before jansson builds a tree of it (jansson
 * itself stops at 2048 levels and counts nothing): a catalog is a handful
 * of levels deep, and a million values is far more than any catalog or
 * manifest line holds, while 16 MiB of "[0,0,..." would otherwise become
 * some 8 million nodes. */
#define BOX_JSON_MAX_DEPTH   64          /* nested arrays/objects */
#define BOX_JSON_MAX_VALUES  (1u << 20)  /* values in one document */

/*
 * Parse LEN bytes of TEXT: one JSON object or array (RFC 8259), with
 * whitespace around it and nothing else.  Strings must be UTF-8 without
 * "\u0000" (jansson's defaults); duplicate member names are refused
 * (JSON_REJECT_DUPLICATES: readers disagree on which one wins).  *OUT
 * receives a new reference.  Returns 0, BW_EFORMAT (naming FILE, and the
 * line and column jansson stopped at) or BW_ENOMEM.
 */
int box_json_load(const char *text, size_t len, const char *file,
		  json_t **out, struct bw_error *err);

#endif
