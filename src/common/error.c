/* Error codes to text and the one place error messages are formatted. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boxwright/error.h"

const char *bw_strerror(int code)
{
	switch (code) {
	case BW_OK:           return "success";
	case BW_EIO:          return "input/output error";
	case BW_ENOMEM:       return "out of memory";
	case BW_EFORMAT:      return "corrupt or truncated input";
	case BW_EUNSUPPORTED: return "unsupported input";
	case BW_EINVAL:       return "invalid argument";
	case BW_ENOTFOUND:    return "not found";
	case BW_EGUEST:       return "guest backend failed";
	case BW_EHIVE:        return "registry hive error";
	case BW_EDIRTY:       return "needs log replay (dirty)";
	case BW_ENOTIMPL:     return "not implemented yet";
	case BW_EINTERRUPTED: return "interrupted";
	case BW_EUSAGE:       return "invalid option";
	}
	return "unknown error";
}

const char *bw_errcode_name(int code)
{
	switch (code) {
	case BW_OK:           return "OK";
	case BW_EIO:          return "EIO";
	case BW_ENOMEM:       return "ENOMEM";
	case BW_EFORMAT:      return "EFORMAT";
	case BW_EUNSUPPORTED: return "EUNSUPPORTED";
	case BW_EINVAL:       return "EINVAL";
	case BW_ENOTFOUND:    return "ENOTFOUND";
	case BW_EGUEST:       return "EGUEST";
	case BW_EHIVE:        return "EHIVE";
	case BW_EDIRTY:       return "EDIRTY";
	case BW_ENOTIMPL:     return "ENOTIMPL";
	case BW_EINTERRUPTED: return "EINTERRUPTED";
	case BW_EUSAGE:       return "EUSAGE";
	}
	return "EUNKNOWN";
}

int bw_seterr(struct bw_error *err, int code, const char *file,
	      const char *fmt, ...)
{
	if (!err)
		return code;
	err->code = code;
	size_t n = 0;
	if (file) {
		int r = snprintf(err->msg, sizeof err->msg, "%s: ", file);
		n = r < 0 ? 0 : (size_t)r;
		if (n >= sizeof err->msg)
			n = sizeof err->msg - 1;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg + n, sizeof err->msg - n, fmt, ap);
	va_end(ap);
	return code;
}

void bw_error_clear(struct bw_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

int bw_exit_status(int code)
{
	switch (code) {
	case BW_OK:           return 0;
	case BW_EINVAL:
	case BW_EUSAGE:       return 2;
	case BW_EFORMAT:
	case BW_EUNSUPPORTED:
	case BW_EDIRTY:       return 3;
	default:              return 1;
	}
}
