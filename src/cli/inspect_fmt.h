/* inspect's renderings of the image model (job.h): text and JSON. */
#ifndef BW_CLI_INSPECT_FMT_H
#define BW_CLI_INSPECT_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "boxwright/job.h"

const char *bcd_type_name(uint32_t t);
/* NULL when the element has no name we know. */
const char *bcd_element_name(uint32_t id, uint32_t objtype);
const char *dev_kind_name(enum bw_bcd_dev_kind k);
void hex_string(const uint8_t *p, size_t n, char *out, size_t outn);
const char *logfile_name(enum bw_ntfs_logfile l);
const char *gpt_kind_name(int kind);
void human_size(uint64_t b, char *out, size_t n);

void inspect_print_text(const struct bw_image_model *m);
/* ERR (may be NULL): what stopped the reading, as "error". */
void inspect_print_json(const struct bw_image_model *m, const struct bw_error *err);
/* {"file", "error"}: an input that is no disk boxwright reads. */
void inspect_print_json_error(const char *file, const struct bw_error *err);

#endif
