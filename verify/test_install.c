/* test_install.c — `make install` into a temporary prefix, a C program
 * (verify/install/prog.c) built against it with pkg-config, shared and
 * static, both run and their OUT.npz compared; a DESTDIR install and make
 * uninstall (verify/install_test.sh). Skipped under the sanitizer builds
 * (make debug): their library needs the sanitizer runtime in the program. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "verify/helpers.h"

Test(install, prefix_pkg_config_program_and_uninstall, .timeout = 600) {
    const char *variant = getenv("MIMRL_VARIANT");
    if (variant && strncmp(variant, "debug", 5) == 0) cr_skip_test("sanitizer build (%s): the installed library needs the sanitizer runtime", variant);
    if (system("command -v pkg-config >/dev/null 2>&1") != 0) cr_skip_test("pkg-config not installed (make deps installs it)");
    char dir[4096], cmd[8192], out[16384];
    t_path(dir, sizeof dir, "install");
    snprintf(cmd, sizeof cmd, "bash verify/install_test.sh %s 2>&1", dir);
    FILE *p = popen(cmd, "r");
    cr_assert(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "verify/install_test.sh failed:\n%s", out);
    cr_assert(strstr(out, "install test: ok") != NULL, "%s", out);
}
