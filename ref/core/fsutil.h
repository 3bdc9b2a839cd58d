/* fsutil.h — reading a whole file and creating a directory path: the one
 * copy of each for the whole tree.
 *
 * Size policy: every caller states the largest file it accepts (max bytes,
 * its own format's sane bound). A file above it is an error that names the
 * file, its size and the limit (MR_EFORMAT); it is never truncated silently.
 * Pass SIZE_MAX - 1 for "whatever fits in memory".
 */
#ifndef MR_FSUTIL_H
#define MR_FSUTIL_H

#include <stddef.h>

#include "ref/core/common.h"

/* The whole of path in a malloc'd buffer *buf (*len bytes, plus a NUL
 * after them so text can be parsed in place). Errors, each naming path:
 * MR_EIO cannot open / read (with the system's reason), MR_EFORMAT larger
 * than max bytes (message gives the size and the limit), MR_ENOMEM. On
 * error *buf is NULL and *len 0. */
int mr_read_file(const char *path, size_t max, char **buf, size_t *len, mr_error *e);

/* mkdir -p: create path and every missing parent (mode 0777 before the
 * umask). An existing directory is success; MR_EIO names the path (the
 * component that failed) and the system's reason. */
int mr_mkdir_p(const char *path, mr_error *e);

#endif
