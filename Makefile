# mimrl.c — one Makefile for the library, the CLI, the tests, the fuzzer.
#
#   make            build build/mimrl and the library the tests link
#   make run        the README's main job (installs deps first)
#   make test       install deps if missing, build, run all Criterion tests for
#                   the default BLAS and for the BLAS=none reference build
#   make debug      the same tests under ASan + UBSan (-O0)
#   make verify     slow estimator benchmarks → verify/results/ (not in CI)
#   make verify-peer our estimators on peer benchmarks → verify/results/peer.md
#                   (PEER_FLAGS=--quick for the subset)
#   make fixtures   regenerate the PyTorch cross-check fixtures (python3-torch)
#   make crosscheck the whole step against the PyTorch implementation (verify/torch)
#   make bench      benchmarks against PyTorch in the same run → bench/RESULTS.md
#                   (bench-step, bench-train, bench-est, bench-report separately)
#   make fuzz       libFuzzer runs of the npz/npy reader, then of the safetensors
#                   reader (make fuzz-safetensors alone; FUZZ_SECONDS=60 each)
#   make install    the CLI, libmimrl.so/.a, include/mimrl/*.h and mimrl.pc
#                   under PREFIX (/usr/local; DESTDIR honoured); make uninstall
#   make deps       install the Debian packages the build and tests need
#   make clean
#
# BLAS selects the matrix-multiply backend (comments stay on their own line:
# a trailing comment would put spaces into the value):
#   openblas  GSL's CBLAS interface bound to OpenBLAS (default)
#   gslcblas  GSL's own reference CBLAS
#   none      naive loops, no threads: the bitwise-reproducible reference build
BLAS    ?= openblas
SHARED  ?= ../shared
CC      ?= cc
CFLAGS  ?= -std=c11 -O2 -g -Wall -Wextra -Wshadow -Wpedantic -Werror -ffp-contract=off
CPPFLAGS += -D_DEFAULT_SOURCE -D_FILE_OFFSET_BITS=64 -I. -Iinclude -MMD -MP

ifeq ($(BLAS),openblas)
  BLAS_DEF  = -DMR_OPENBLAS=1
  BLAS_LIBS = -lopenblas -lsleef
else ifeq ($(BLAS),gslcblas)
  BLAS_DEF  =
  BLAS_LIBS = -lgslcblas -lsleef
else ifeq ($(BLAS),none)
  BLAS_DEF  = -DMR_REF=1
  BLAS_LIBS = -lgslcblas
else
  $(error BLAS must be openblas, gslcblas or none (got '$(BLAS)'))
endif

# Build variant: objects and binaries of each (BLAS, sanitizer) pair live apart.
VARIANT ?= $(BLAS)
ifeq ($(VARIANT),openblas)
  OUT = build
else
  OUT = build/$(VARIANT)
endif
OBJ = build/obj/$(VARIANT)

LDLIBS      = -lgsl $(BLAS_LIBS) -lutf8proc -lz -lm
TEST_LDLIBS = -pthread -lcriterion $(LDLIBS)

# The interpreter that imports numpy, and the one that imports torch too
# (verify/find_python.sh: Debian's system python3 first; the first python3 on
# PATH may be another one without them). Empty when there is none yet: the
# targets that need one install the packages first (deps) and fall back to
# /usr/bin/python3, where Debian's packages put them.
PYTHON ?= $(shell bash verify/find_python.sh numpy 2>/dev/null)
PYTHON_TORCH ?= $(shell bash verify/find_python.sh numpy torch 2>/dev/null)
PYTORCH = $(or $(PYTHON_TORCH),/usr/bin/python3)

# The library, one folder per layer, each including only from the layers
# before it (verify/check_layers.sh enforces it):
#   ref/core → ref/nn → ref/bert, estimators → datasets, ref/model → ref/train → ref/api → ref/cli
# (ref/bert: BERT's config, weights from Hugging Face directories, safetensors
# or npz, and its layers)
# (ref/api: the oracle step and the public C API of include/mimrl/mimrl.h)
LAYERS   = ref/core ref/nn ref/bert estimators datasets ref/model ref/train ref/api
LIB_SRC  = $(foreach d,$(LAYERS),$(wildcard $(d)/*.c))
CLI_SRC  = $(wildcard ref/cli/*.c)
TEST_SRC = $(wildcard verify/*.c)

LIB_OBJ  = $(LIB_SRC:%.c=$(OBJ)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(OBJ)/%.o)
TEST_OBJ = $(TEST_SRC:%.c=$(OBJ)/%.o)

LIB = $(OUT)/libmimrl.a
# The shared library: the same sources compiled -fPIC apart (build/obj/
# VARIANT-pic), exporting only the public API (MIMRL_API; -fvisibility=hidden).
VERSION = 0.2.0
SOMAJOR = 0
SONAME  = libmimrl.so.$(SOMAJOR)
SO      = $(OUT)/libmimrl.so.$(VERSION)
PIC_OBJ = build/obj/$(VARIANT)-pic
LIB_PIC = $(LIB_SRC:%.c=$(PIC_OBJ)/%.o)
BIN = $(OUT)/mimrl
TESTBIN = $(OUT)/test_all
SHIM_FAIL_THREADS = $(OUT)/fail_threads.so

TORCH_PKGS = python3-torch
DEB_PKGS = make gcc libc6-dev pkg-config libgsl-dev libopenblas-dev libcriterion-dev libsleef-dev zlib1g-dev libutf8proc-dev python3 python3-numpy
FUZZ_PKGS = clang libclang-rt-14-dev

.PHONY: conform
.PHONY: run-bert all shared install uninstall run test test-run debug verify bitcheck fixtures bert-fixtures crosscheck crosscheck-fixtures bench-step bench-train bench-report bench bench-est bench-bert verify-peer fuzz fuzz-safetensors deps deps-fuzz clean banner
SHELL := /bin/bash
.DEFAULT_GOAL := all

all: banner $(BIN) $(LIB)

banner:
	@echo "[config] CC=$(CC) BLAS=$(BLAS) VARIANT=$(VARIANT) OUT=$(OUT)"

# Per-file flags, for the static and the -fPIC objects alike (FLAGS_<stem>):
# * the SLEEF AVX2 kernels of the gate nonlinearities (ref/nn/vmath.h): the
#   one file built for AVX2+FMA, called only after a run-time CPU check; empty,
#   and SLEEF not linked, in the BLAS=none build (libm there, bit for bit);
# * the recurrences' elementwise gate loops (runtime trip counts) vectorize
#   only under GCC's dynamic cost model (-O2 uses the "very cheap" one).
#   Vector lanes do the scalar operations, and GCC never reorders a
#   floating-point sum without -ffast-math: results stay bit for bit those of
#   the scalar loops.
FLAGS_ref/nn/vmath_avx2 = -mavx2 -mfma
FLAGS_ref/nn/rnn = -fvect-cost-model=dynamic

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BLAS_DEF) $(CFLAGS) $(FLAGS_$*) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(PIC_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BLAS_DEF) $(CFLAGS) $(FLAGS_$*) -fPIC -fvisibility=hidden -c $< -o $@

$(SO): $(LIB_PIC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -o $@ $^ $(LDLIBS) -pthread
	ln -sf libmimrl.so.$(VERSION) $(OUT)/$(SONAME)
	ln -sf $(SONAME) $(OUT)/libmimrl.so

shared: $(SO)

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
	@./$@ blas

# The test binary counts its own code's allocations and thread starts (verify/alloc_count.h).
TEST_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=pthread_create
$(TESTBIN): $(TEST_OBJ) $(LIB) $(SHIM_FAIL_THREADS)
	$(CC) $(CFLAGS) $(LDFLAGS) $(TEST_WRAP) -o $@ $(TEST_OBJ) $(LIB) $(TEST_LDLIBS)

# An LD_PRELOAD shim whose pthread_create fails (verify/shim/fail_threads.c):
# the tests run `mimrl train` under it, next to which it is built. Without
# the sanitizer flags: it is preloaded, also into the ASan builds' mimrl.
$(SHIM_FAIL_THREADS): verify/shim/fail_threads.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -fPIC -shared -o $@ $<

# ----------------------------------------------------------------- install
# make install [PREFIX=/usr/local] [DESTDIR=] [BLAS=…]: bin/mimrl,
# lib/libmimrl.so.$(VERSION) (soname $(SONAME)) with its links, lib/libmimrl.a,
# include/mimrl/*.h, lib/pkgconfig/mimrl.pc. make uninstall removes them.
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR = $(PREFIX)/lib
INCDIR = $(PREFIX)/include
# openblas first: a static link must not resolve the CBLAS symbols from gslcblas
ifeq ($(BLAS),openblas)
  PC_REQUIRES = openblas sleef gsl libutf8proc zlib
else ifeq ($(BLAS),gslcblas)
  PC_REQUIRES = sleef gsl libutf8proc zlib
else
  PC_REQUIRES = gsl libutf8proc zlib
endif
install: all $(SO)
	install -d "$(DESTDIR)$(PREFIX)/bin" "$(DESTDIR)$(LIBDIR)/pkgconfig" "$(DESTDIR)$(INCDIR)/mimrl"
	install -m 755 $(BIN) "$(DESTDIR)$(PREFIX)/bin/mimrl"
	install -m 644 $(LIB) "$(DESTDIR)$(LIBDIR)/libmimrl.a"
	install -m 755 $(SO) "$(DESTDIR)$(LIBDIR)/libmimrl.so.$(VERSION)"
	ln -sf libmimrl.so.$(VERSION) "$(DESTDIR)$(LIBDIR)/$(SONAME)"
	ln -sf $(SONAME) "$(DESTDIR)$(LIBDIR)/libmimrl.so"
	install -m 644 include/mimrl/*.h "$(DESTDIR)$(INCDIR)/mimrl/"
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES@|$(PC_REQUIRES)|' -e 's|@BLAS@|$(BLAS)|' ref/api/mimrl.pc.in > "$(DESTDIR)$(LIBDIR)/pkgconfig/mimrl.pc"
	@echo "installed mimrl $(VERSION) ($(BLAS)) under $(DESTDIR)$(PREFIX)"

uninstall:
	rm -f "$(DESTDIR)$(PREFIX)/bin/mimrl" "$(DESTDIR)$(LIBDIR)/libmimrl.a" "$(DESTDIR)$(LIBDIR)/libmimrl.so.$(VERSION)" \
	    "$(DESTDIR)$(LIBDIR)/$(SONAME)" "$(DESTDIR)$(LIBDIR)/libmimrl.so" "$(DESTDIR)$(LIBDIR)/pkgconfig/mimrl.pc"
	rm -f $(patsubst include/mimrl/%,"$(DESTDIR)$(INCDIR)/mimrl/%",$(wildcard include/mimrl/*.h))
	-rmdir "$(DESTDIR)$(INCDIR)/mimrl" 2>/dev/null

# ---------------------------------------------------------------- main job
# The official README configuration (Run2.ipynb cell 8; the `readme` preset of
# ref/train/config.c, listed by `mimrl train --help`) for RUN_EPOCHS epochs on
# the built-in synthetic MOSI-like dataset (written on first use); a previous
# runs/default is replaced.
RUN_EPOCHS ?= 4
run: deps
	$(MAKE) all
	./build/mimrl train --out runs/default --overwrite --preset readme --epochs_num $(RUN_EPOCHS)

# The whole pipeline with BERT fine-tuned on the transcripts: a small random
# BERT (mimrl bert-init, 2 layers, hidden 64; its vocabulary covers mimrl
# synth's transcripts) in build/bert-tiny, the synthetic MOSI-like data, the
# README configuration (README "Training" → "With BERT").
RUN_BERT_EPOCHS ?= 3
run-bert: deps
	$(MAKE) all
	test -f build/bert-tiny/model.safetensors || ./build/mimrl bert-init --layers 2 --hidden 64 --out build/bert-tiny
	./build/mimrl train --out runs/bert --overwrite --preset readme --bert build/bert-tiny --epochs_num $(RUN_BERT_EPOCHS)

# ------------------------------------------------------------------- tests
# Tests run with one OpenBLAS thread and two Criterion workers (2 cores).
# --verbose so that every skipped test prints its reason ([SKIP] lines);
# the per-test RUN/PASS lines are filtered out.
# --timeout is a hang guard, not a speed test: it is the longest per-test
# limit a test states (the training tests' 600 s: 16 epochs in the BLAS=none
# build take ~4 min of one core). Each run starts from an empty build/tmp
# (the tests' scratch: checkpoints and run directories, a few GB).
CRITERION_FLAGS ?= --jobs 2 --timeout 600
test: deps
	$(MAKE) test-run
	$(MAKE) test-run BLAS=none MIMRL_BIN_OTHER=build/mimrl
	$(MAKE) test-paper

test-run: all $(TESTBIN) $(SO)
	@mkdir -p build/reports
	rm -rf build/tmp
	set -o pipefail; OPENBLAS_NUM_THREADS=1 MIMRL_PYTHON="$(PYTHON)" MIMRL_SHARED="$(SHARED)" MIMRL_BIN="$(BIN)" MIMRL_BIN_OTHER="$(MIMRL_BIN_OTHER)" \
	  MIMRL_LIB="$(SO)" MIMRL_BLAS="$(BLAS)" MIMRL_VARIANT="$(VARIANT)" \
	  ./$(TESTBIN) $(CRITERION_FLAGS) --verbose --xml=build/reports/test-$(VARIANT).xml 2>&1 \
	  | grep --line-buffered -v -E '^\[(RUN |PASS)\]|^\[====\] Running'

# ASan must leave SIGFPE alone: the trap tests expect the signal itself.
# A sanitizer report after a test has passed (e.g. a leak found at exit) does
# not fail that test in Criterion, so the log is scanned for reports too.
debug: deps
	@mkdir -p build/reports
	set -o pipefail; ASAN_OPTIONS=handle_sigfpe=0:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) --no-print-directory test-run VARIANT=debug-$(BLAS) \
	  CFLAGS="-std=c11 -O0 -g -Wall -Wextra -Wshadow -Wpedantic -Werror -ffp-contract=off -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
	  LDFLAGS="-fsanitize=address,undefined" 2>&1 | tee build/reports/debug.log
	@! grep -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' build/reports/debug.log \
	  || { echo "make debug: sanitizer reports above"; exit 1; }

# ------------------------------------------------------------------- bench
# GRU forward+backward at MIMRL shapes: C (this BLAS, 1 and 2 threads) and
# PyTorch float64 (same call, same lengths) in the same run; ratios printed,
# rows appended to bench/results/gru.csv.
BENCH_REPS ?= 5
$(OUT)/gru_bench: bench/gru_bench.c $(LIB)
	$(CC) $(CPPFLAGS) $(BLAS_DEF) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(OUT)/est_bench: bench/est_bench.c $(LIB)
	$(CC) $(CPPFLAGS) $(BLAS_DEF) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(OUT)/step_bench: bench/step_bench.c $(LIB)
	$(CC) $(CPPFLAGS) $(BLAS_DEF) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The evaluation forward against the training forward (bench/eval_bench.c):
# workspace bytes with and without backward caches, one evaluation pass timed.
$(OUT)/eval_bench: bench/eval_bench.c $(LIB)
	$(CC) $(CPPFLAGS) $(BLAS_DEF) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS) -pthread

# BERT-base in the benchmark (bench/run_bert.sh): forward+backward at
# B = 128 x 100 tokens (bench/bert_bench.c) and the MOSI training step with
# BERT-base (step_bench --bert base), mimrl.c against the PyTorch twin in
# float64 and float32, one run (~35 min on 2 cores); rows in
# bench/results/bert.csv and bert_step.csv, with the projected 70-epoch MOSI
# run. BENCH_BERT_B, BENCH_BERT_L, BENCH_BERT_CHUNK, BENCH_BERT_PARTS="bert step".
$(OUT)/bert_bench: bench/bert_bench.c $(LIB)
	$(CC) $(CPPFLAGS) $(BLAS_DEF) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench-bert: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	$(MAKE) all $(OUT)/bert_bench $(OUT)/step_bench
	bash bench/run_bert.sh "$(OUT)" "$(PYTORCH)"
	$(PYTHON) bench/report.py

# Estimator throughput (critic steps/s, k-NN sampling time against bank size),
# 1 and 2 BLAS threads; rows appended to bench/results/estimators.csv.
bench-est: all $(OUT)/est_bench
	@mkdir -p bench/results
	bash bench/run_est.sh "$(OUT)/est_bench" $(BENCH_REPS)

# Training-step throughput at the README configuration, MOSI/MOSEI/AVEC
# shapes: mimrl.c (OpenBLAS 1 and 2 cores, BLAS=none) against the verify/torch
# implementation in float64 and float32, one run; validated first.
# BENCH_STEP_SHAPES="mosi mosei avec"; BENCH_DATA_MOSI=PREFIX for real data.
BENCH_STEP_REPS ?= 3
BENCH_STEP_SHAPES ?= mosi mosei avec
bench-step: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	$(MAKE) all $(OUT)/step_bench
	$(MAKE) BLAS=none all $(OUT)/none/step_bench
	@mkdir -p bench/results
	bash bench/run_step.sh "$(OUT)" "$(PYTORCH)" $(BENCH_STEP_REPS) $(BENCH_STEP_SHAPES)
	$(PYTHON) bench/report.py

# Full training runs (README configuration) on MOSI-, MOSEI- and AVEC-shaped
# synthetic data (or BENCH_DATA_<SHAPE>=PREFIX): time per epoch, peak memory,
# final metrics, 70-epoch projection (bench/run_train.sh has the knobs).
bench-train: all
	@mkdir -p bench/results
	PYTHON="$(PYTHON)" bash bench/run_train.sh "$(OUT)" $(BENCH_STEP_SHAPES)
	$(PYTHON) bench/report.py

bench-report:
	$(PYTHON) bench/report.py

bench: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	$(MAKE) all $(OUT)/gru_bench $(OUT)/est_bench
	@mkdir -p bench/results
	bash bench/run_gru.sh "$(OUT)/gru_bench" "$(PYTORCH)" $(BENCH_REPS)
	bash bench/run_est.sh "$(OUT)/est_bench" $(BENCH_REPS)
	$(MAKE) --no-print-directory bench-step bench-train

# ---------------------------------------------------------------- fixtures
# Regenerates the PyTorch cross-check fixtures in verify/fixtures/ (committed;
# the tests read them without Python). Needs Debian's python3-torch.
fixtures: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	$(PYTORCH) verify/torch_fixtures.py verify/fixtures
	@$(MAKE) --no-print-directory bert-fixtures
	@$(MAKE) --no-print-directory crosscheck-fixtures

# The BERT twin's fixtures (verify/torch/bert_torch.py, read by verify/test_bert.c).
bert-fixtures:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	$(PYTORCH) verify/torch/bert_torch.py fixtures verify/fixtures/bert

# ---------------------------------------------------------------- crosscheck
# The whole step (every output, estimate, loss and gradient of both stages)
# of `mimrl oracle` against the independent PyTorch implementation in
# verify/torch/ on 18 configurations (three with BERT); per-tensor table in
# verify/results/crosscheck.tsv. crosscheck-fixtures rewrites the committed
# fixtures that `make test` checks without Python (test_crosscheck.c).
crosscheck: deps $(BIN)
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	@mkdir -p verify/results
	OPENBLAS_NUM_THREADS=1 $(PYTORCH) verify/torch/crosscheck.py --bin $(BIN) --work $(OUT)/crosscheck \
	    --report verify/results/crosscheck.tsv

# `mimrl conform` with the PyTorch twin as the port (README "Conformance"):
# CONFORM_SUITE quick|full|bert, CONFORM_DTYPE float64|float32
CONFORM_SUITE ?= quick
CONFORM_DTYPE ?= float64
conform: deps $(BIN)
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	OPENBLAS_NUM_THREADS=1 $(BIN) conform --suite $(CONFORM_SUITE) --dtype $(CONFORM_DTYPE) --work $(OUT)/conform-$(CONFORM_SUITE) \
	    --port '$(PYTORCH) verify/torch/mimrl_torch.py --checkpoint {ckpt} --batch {batch} --out {out} --dump all --dtype $(CONFORM_DTYPE)'

crosscheck-fixtures: deps $(BIN)
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	rm -rf verify/fixtures/crosscheck
	OPENBLAS_NUM_THREADS=1 $(PYTORCH) verify/torch/crosscheck.py --bin $(BIN) --work $(OUT)/crosscheck \
	    --fixtures verify/fixtures/crosscheck

# ---------------------------------------------------------------- bitcheck
# The refactoring invariant: every `mimrl oracle` output and gradient on the
# cross-check configurations, and a short training run with a resume, of the
# BLAS=none build are bit-identical to BITCHECK_BASE's (verify/bitcheck.py).
# The default base is the last commit before the issue-11 restructuring.
BITCHECK_BASE ?= 887da7d
bitcheck: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(TORCH_PKGS)"
	$(PYTORCH) verify/bitcheck.py --base $(BITCHECK_BASE)

# ------------------------------------------------------------------ verify
# The slow tier (not in CI): the full Poole staircase for every bound and the
# CMINE / CCMI benchmarks, written to verify/results/ (CSV + RESULTS.md).
VERIFY_FLAGS ?=
verify: deps
	$(MAKE) all
	OPENBLAS_NUM_THREADS=1 ./$(BIN) verify-estimators --out verify/results $(VERIFY_FLAGS)

# ------------------------------------------------------------- verify-peer
# Our estimators on peer benchmarks (Beyond Normal's analytic-MI tasks, CCMI
# models I/II, tigramite's confounded Gaussians): 10 seeds at N = 5,000 →
# verify/results/peer.md, peer.csv, peer_runs.csv. PEER_FLAGS=--quick for the
# subset (3 seeds, 10 tasks, 4 MI methods); --seeds N, --n N, --tasks, --methods.
PEER_FLAGS ?=
verify-peer: all
	OPENBLAS_NUM_THREADS=1 nice -n 10 ./$(BIN) verify-peer --out verify/results --label "commit $$(git rev-parse --short HEAD)" $(PEER_FLAGS)

# -------------------------------------------------------------------- fuzz
FUZZ_SECONDS ?= 60
FUZZ_DIR = build/fuzz
fuzz: deps deps-fuzz $(TESTBIN)
	@mkdir -p $(FUZZ_DIR)/corpus
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(CPPFLAGS) -DMR_REF=1 -o $(FUZZ_DIR)/fuzz_npz verify/fuzz/fuzz_npz.c ref/core/npz.c ref/core/common.c -lz -lm
	OPENBLAS_NUM_THREADS=1 MIMRL_FUZZ_SEEDS=$(FUZZ_DIR)/corpus ./$(TESTBIN) --filter 'npz/write_fuzz_seeds' >/dev/null
	./$(FUZZ_DIR)/fuzz_npz -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	  $(FUZZ_DIR)/corpus 2>&1 | tee $(FUZZ_DIR)/last.log | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done'
	$(MAKE) --no-print-directory fuzz-safetensors

# The safetensors reader, its JSON reader and the config.json reader, seeded
# with the malformed-file corpus of verify/test_safetensors.c.
fuzz-safetensors: deps deps-fuzz $(TESTBIN)
	@mkdir -p $(FUZZ_DIR)/corpus-st
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(CPPFLAGS) -DMR_REF=1 -o $(FUZZ_DIR)/fuzz_safetensors verify/fuzz/fuzz_safetensors.c ref/core/safetensors.c \
	  ref/core/json.c ref/bert/bert_config.c ref/core/npz.c ref/core/common.c -lz -lm
	OPENBLAS_NUM_THREADS=1 MIMRL_FUZZ_SEEDS=$(FUZZ_DIR)/corpus-st ./$(TESTBIN) --filter 'safetensors/write_fuzz_seeds' >/dev/null
	./$(FUZZ_DIR)/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
	  $(FUZZ_DIR)/corpus-st 2>&1 | tee $(FUZZ_DIR)/last-st.log | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY|Done'

# -------------------------------------------------------------------- deps
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "[deps] installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else \
	    echo "[deps] missing packages; run as root:"; echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

deps-fuzz:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(FUZZ_PKGS)"

clean:
	rm -rf build

# ------------------------------------------------------------------- paper
# `make paper` regenerates the paper's tables T1-T6 and figures (paper/experiments.json) from a
# sweep of `mimrl train` runs: PAPER_PROFILE=smoke (default: synthetic, tiny, minutes) | synthetic
# (full-size synthetic, the paper's epochs) | real (PAPER_DATA_MOSI=PREFIX, PAPER_DATA_MOSEI,
# PAPER_DATA_AVEC: converted data). PAPER_ENGINE=local (PAPER_JOBS concurrent runs, default from
# cores and memory) | slurm (job arrays; PAPER_ROOT on a shared filesystem; PAPER_SLURM_FLAGS e.g.
# "--partition cpu --max-time 2-00:00:00 --throttle 20 --slurm-setup FILE --sbatch-arg=--qos=long";
# per-run --time/--mem from experiments.json "limits", --limit DATASET:time=T,mem=GB overrides). Re-running submits only missing or failed runs
# and continues killed ones (--resume). Output: paper/out/<profile>/ (README.md, T*.md, T*.tex,
# F*.png, manifest.json). `make paper-estimate` prints the projected duration only.
PAPER_PROFILE ?= smoke
PAPER_ENGINE  ?= local
PAPER_ROOT    ?= runs/paper/$(PAPER_PROFILE)
PAPER_OUT     ?= paper/out/$(PAPER_PROFILE)
PAPER_JOBS    ?=
PAPER_THREADS ?= 1
PAPER_SLURM_FLAGS ?=
PAPER_PKGS      = python3-matplotlib
PAPER_TEST_PKGS = python3-matplotlib slurm-wlm munge
PAPER_ARGS = --profile $(PAPER_PROFILE) --engine $(PAPER_ENGINE) --root $(PAPER_ROOT) --out $(PAPER_OUT) --bin $(BIN) \
  --threads $(PAPER_THREADS) $(if $(PAPER_JOBS),--jobs $(PAPER_JOBS)) $(if $(filter slurm,$(PAPER_ENGINE)),$(PAPER_SLURM_FLAGS))
PAPER_ENV = PAPER_DATA_MOSI="$(PAPER_DATA_MOSI)" PAPER_DATA_MOSEI="$(PAPER_DATA_MOSEI)" PAPER_DATA_AVEC="$(PAPER_DATA_AVEC)" PAPER_BERT="$(PAPER_BERT)"

.PHONY: paper paper-estimate paper-status test-paper test-slurm
paper: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(PAPER_PKGS)"
	$(MAKE) all
	@$(PAPER_ENV) $(PYTHON) paper/sweep.py costs --bin $(BIN) --threads $(PAPER_THREADS)
	$(PAPER_ENV) $(PYTHON) paper/sweep.py run $(PAPER_ARGS)

paper-estimate: $(BIN)
	@$(PAPER_ENV) $(PYTHON) paper/sweep.py estimate $(PAPER_ARGS)

paper-status:
	@$(PAPER_ENV) $(PYTHON) paper/sweep.py status --profile $(PAPER_PROFILE) --root $(PAPER_ROOT)

# The planted-information study (issue #20, paper T6): every knob of `mimrl synth` swept alone,
# ground truth (a) MIMRL composites and (b) MMI PID from `mimrl synth --truth-only`, (c) MIMRL trained
# on the data (3 seeds, small sizes); response matrix, figures -> paper/out/planted/ (PLANTED_JOBS runs
# at a time). Its smoke version is the planted_smoke case of test-paper.
PLANTED_JOBS ?= 2
.PHONY: paper-planted
paper-planted: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(PAPER_PKGS)"
	$(MAKE) all
	nice -n 10 $(PYTHON) paper/planted.py run --bin $(BIN) --jobs $(PLANTED_JOBS)

# The paper tests run once (not per BLAS build): local smoke sweep, failed run, SIGKILL + resume,
# aggregation reports, and the smoke sweep through a real single-node Slurm (skipped when not root).
# paper/test_slurm.py (scancel, TIMEOUT, requeue, squeue failing, dependent aggregation, stale
# running status; its own local Slurm on port 16827) runs beside test_paper.py: it mostly waits.
test-paper:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(PAPER_TEST_PKGS)"
	$(MAKE) all
	@$(PYTHON) paper/test_slurm.py --bin $(BIN) > build/paper-test-slurm.log 2>&1 & pid=$$!; \
	  $(PYTHON) paper/test_paper.py --bin $(BIN); rc=$$?; \
	  wait $$pid; rc2=$$?; cat build/paper-test-slurm.log; [ $$rc = 0 ] && [ $$rc2 = 0 ]

test-slurm:
	$(PYTHON) paper/test_slurm.py --bin $(BIN)

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(LIB_PIC:.o=.d)
