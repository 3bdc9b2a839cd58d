/* fsutil.c — see fsutil.h. */
#include "ref/core/fsutil.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

static int too_big(const char *path, unsigned long long size, int exact, size_t max, mr_error *e) {
    return mr_fail(e, MR_EFORMAT, "%s: %s%llu bytes, larger than the limit of %zu bytes for this file", path,
                   exact ? "" : "more than ", size, max);
}

int mr_read_file(const char *path, size_t max, char **buf, size_t *len, mr_error *e) {
    *buf = NULL;
    *len = 0;
    if (max >= SIZE_MAX) max = SIZE_MAX - 1;
    FILE *f = fopen(path, "rb");
    if (!f) return mr_fail(e, MR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    size_t cap = 1 << 16;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return mr_fail(e, MR_EIO, "%s: is a directory, not a file", path);
    }
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        if ((unsigned long long)st.st_size > (unsigned long long)max) {
            fclose(f);
            return too_big(path, (unsigned long long)st.st_size, 1, max, e);
        }
        cap = (size_t)st.st_size + 1; /* +1: see EOF in one read */
    }
    if (cap > max + 1) cap = max + 1;
    char *b = malloc(cap + 1);
    if (!b) {
        fclose(f);
        return mr_fail(e, MR_ENOMEM, "%s: out of memory for %zu bytes", path, cap + 1);
    }
    size_t n = 0;
    for (;;) {
        if (n == cap) { /* the file grew, or is a pipe: double up to max + 1 */
            if (cap > max) break;
            size_t nc = cap > (max + 1) / 2 ? max + 1 : 2 * cap;
            char *nb = realloc(b, nc + 1);
            if (!nb) {
                free(b);
                fclose(f);
                return mr_fail(e, MR_ENOMEM, "%s: out of memory for %zu bytes", path, nc + 1);
            }
            b = nb, cap = nc;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b);
        return mr_fail(e, MR_EIO, "%s: read error after %zu bytes", path, n);
    }
    if (n > max) {
        free(b);
        return too_big(path, (unsigned long long)n, 0, max, e);
    }
    b[n] = 0;
    *buf = b;
    *len = n;
    return MR_OK;
}

int mr_mkdir_p(const char *path, mr_error *e) {
    size_t n = strlen(path);
    if (n == 0) return mr_fail(e, MR_EIO, "mkdir: empty directory name");
    char *b = malloc(n + 1);
    if (!b) return mr_fail(e, MR_ENOMEM, "%s: out of memory", path);
    memcpy(b, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (b[i] != '/' && b[i] != 0) continue;
        if (b[i - 1] == '/') continue; /* "a//b" */
        char c = b[i];
        b[i] = 0;
        if (mkdir(b, 0777) != 0 && errno != EEXIST) {
            int rc = mr_fail(e, MR_EIO, "%s: cannot create directory %s: %s", path, b, strerror(errno));
            free(b);
            return rc;
        }
        b[i] = c;
    }
    struct stat st;
    int rc = stat(path, &st) == 0 && S_ISDIR(st.st_mode)
                 ? MR_OK
                 : mr_fail(e, MR_EIO, "%s: exists and is not a directory", path);
    free(b);
    return rc;
}
