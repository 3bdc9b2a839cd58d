/* test_estimate_progress.c — progress of `mimrl estimate` (ref/cli/
 * cli_estimate.c): into a pipe, one clean line per MI level and per CMI
 * report, with the rate and the time left, and no carriage returns; on a
 * terminal (MIMRL_PROGRESS=tty) one line redrawn in place, redrawn by time
 * between the estimator's reports, and cleared before the results. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ref/core/common.h"
#include "verify/helpers.h"

static size_t count(const char *s, const char *what) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, what)) != NULL; p += strlen(what)) n++;
    return n;
}

static const char *MI_ARGS = "estimate --dist staircase --mi 2,4 --steps 1000 --batch 8 --d 2 --hidden 8 --embed 4";

Test(estimate_progress, pipe_gets_one_clean_line_per_level) {
    static char out[65536];
    setenv("MIMRL_PROGRESS", "lines", 1);
    cr_assert(t_run_cli(MI_ARGS, out, sizeof out) == 0, "%s", out);
    cr_assert(strchr(out, '\r') == NULL && strchr(out, '\033') == NULL, "terminal codes in a pipe:\n%s", out);
    cr_assert(count(out, "level 1/2:") == 1 && count(out, "level 2/2:") == 1, "%s", out);
    cr_assert(count(out, " steps/s, ") == 2 && count(out, " left\n") == 2, "%s", out);
    cr_assert(strstr(out, "infonce level 2/2: true 4.000, estimate ") != NULL, "%s", out);
    /* the report lines of the estimator itself are not passed through */
    cr_assert(strstr(out, "step  500/1000") == NULL && strstr(out, "(last 100)") == NULL, "%s", out);
    cr_assert(strstr(out, "log B = ") != NULL, "results missing:\n%s", out);
    /* CMI: one line per report of the estimator (every 5 epochs and the last) */
    cr_assert(t_run_cli("estimate --dist cmine --n-train 400 --n-eval 200 --epochs 7 --no-fp", out, sizeof out) == 0, "%s", out);
    cr_assert(strchr(out, '\r') == NULL, "%s", out);
    cr_assert(count(out, "cmi epoch 5/7: train BCE ") == 1 && count(out, "cmi epoch 7/7: train BCE ") == 1, "%s", out);
    cr_assert(count(out, " epochs/s, ") == 2, "%s", out);
    unsetenv("MIMRL_PROGRESS");
}

Test(estimate_progress, terminal_line_is_redrawn_by_time) {
    static char out[1 << 20];
    setenv("MIMRL_PROGRESS", "tty", 1);
    double t0 = mr_seconds();
    cr_assert(t_run_cli("estimate --dist staircase --mi 2,4,6 --steps 1500 --batch 16 --d 2 --hidden 16 --embed 8", out, sizeof out) == 0,
              "%s", out);
    double took = mr_seconds() - t0;
    unsetenv("MIMRL_PROGRESS");
    size_t draws = count(out, "\r\033[K");
    cr_assert(draws >= 9, "expected a redraw per report (9), got %zu:\n%s", draws, out);
    cr_assert(strstr(out, "infonce level 3/3  step 1500/1500  ") != NULL && strstr(out, " left  true 6.000, estimate ") != NULL, "%s", out);
    /* the progress line is cleared before the results; no line of its own is left */
    cr_assert(strstr(out, "\r\033[K    true     estimate") != NULL, "%s", out);
    cr_assert(strstr(out, "level 1/3:") == NULL, "per-level lines on a terminal:\n%s", out);
    /* a 0.5 s ticker: about two redraws a second beyond the reports */
    if (took > 2.0) cr_assert(draws >= 9 + (size_t)(took - 1.0), "%zu redraws in %.1f s", draws, took);
}
