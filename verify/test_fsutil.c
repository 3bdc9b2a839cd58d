/* test_fsutil.c — ref/core/fsutil: the one read-whole-file routine (a
 * caller-given limit; above it an error naming the file and the size, never
 * a truncation) and the one mkdir -p. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ref/core/fsutil.h"
#include "verify/helpers.h"

Test(fsutil, reads_whole_file_with_nul) {
    char p[4096];
    t_path(p, sizeof p, "fs_small.txt");
    cr_assert(t_write_file(p, "abc\0def", 7) == 0);
    char *b;
    size_t n;
    mr_error e = {0};
    cr_assert(mr_read_file(p, 7, &b, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 7 && memcmp(b, "abc\0def", 7) == 0 && b[7] == 0);
    free(b);
}

Test(fsutil, empty_file) {
    char p[4096];
    t_path(p, sizeof p, "fs_empty.txt");
    cr_assert(t_write_file(p, "", 0) == 0);
    char *b;
    size_t n = 99;
    mr_error e = {0};
    cr_assert(mr_read_file(p, 10, &b, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == 0 && b && b[0] == 0);
    free(b);
}

/* Two MiB, above the 1 MiB where cli_train.c's reader used to cut. */
Test(fsutil, limit_exceeded_is_an_error_naming_file_and_size) {
    char p[4096];
    t_path(p, sizeof p, "fs_big.bin");
    size_t big = 2u << 20;
    char *data = calloc(big, 1);
    cr_assert(data);
    memset(data, 'x', big);
    cr_assert(t_write_file(p, data, big) == 0);
    char *b = (char *)1;
    size_t n = 5;
    mr_error e = {0};
    cr_assert(mr_read_file(p, big - 1, &b, &n, &e) == MR_EFORMAT, "%s", e.msg);
    cr_assert(b == NULL && n == 0);
    cr_assert(strstr(e.msg, p) && strstr(e.msg, "2097152") && strstr(e.msg, "2097151"), "%s", e.msg);
    /* at the limit: read whole */
    cr_assert(mr_read_file(p, big, &b, &n, &e) == MR_OK, "%s", e.msg);
    cr_assert(n == big && memcmp(b, data, big) == 0);
    free(b);
    free(data);
}

Test(fsutil, limit_applies_to_pipes_too) {
    /* /dev/zero is not a regular file: the size is unknown, the reader must stop at the limit */
    char *b;
    size_t n;
    mr_error e = {0};
    cr_assert(mr_read_file("/dev/zero", 1000, &b, &n, &e) == MR_EFORMAT, "%s", e.msg);
    cr_assert(strstr(e.msg, "/dev/zero") && strstr(e.msg, "1000"), "%s", e.msg);
}

Test(fsutil, missing_file_names_it) {
    char p[4096];
    t_path(p, sizeof p, "fs_no_such_file");
    char *b;
    size_t n;
    mr_error e = {0};
    cr_assert(mr_read_file(p, 100, &b, &n, &e) == MR_EIO);
    cr_assert(strstr(e.msg, p) && strstr(e.msg, "No such file"), "%s", e.msg);
}

Test(fsutil, mkdir_p_nested_and_existing) {
    char p[4096], q[4200];
    t_path(p, sizeof p, "fs_mk/a/b//c/");
    mr_error e = {0};
    cr_assert(mr_mkdir_p(p, &e) == MR_OK, "%s", e.msg);
    struct stat st;
    t_path(q, sizeof q, "fs_mk/a/b/c");
    cr_assert(stat(q, &st) == 0 && S_ISDIR(st.st_mode));
    cr_assert(mr_mkdir_p(q, &e) == MR_OK, "existing: %s", e.msg);
    /* a file in the way */
    t_path(q, sizeof q, "fs_mk/file");
    cr_assert(t_write_file(q, "x", 1) == 0);
    char r[4300];
    snprintf(r, sizeof r, "%s/sub", q);
    cr_assert(mr_mkdir_p(r, &e) == MR_EIO);
    cr_assert(strstr(e.msg, r), "%s", e.msg);
    cr_assert(mr_mkdir_p(q, &e) == MR_EIO && strstr(e.msg, "not a directory"), "%s", e.msg);
}
