/* demo.h — `mimrl demo`, the foundation's end-to-end run (see demo.c). */
#ifndef MR_DEMO_H
#define MR_DEMO_H

#include <stdio.h>

#include "ref/core/common.h"

/* Writes model.npz, test_pred.npy, test_true.npy into outdir; logs to log. */
int mr_demo(const char *outdir, unsigned long seed, int epochs, FILE *log, mr_error *e);

#endif
