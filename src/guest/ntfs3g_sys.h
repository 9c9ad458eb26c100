/*
 * libntfs-3g's headers expect the system headers that its own config.h
 * would have pulled in (time_t, va_list, struct stat): include them first,
 * here and only here.
 */
#ifndef BW_GUEST_NTFS3G_SYS_H
#define BW_GUEST_NTFS3G_SYS_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#endif
