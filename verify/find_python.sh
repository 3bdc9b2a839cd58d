#!/usr/bin/env bash
# find_python.sh MODULE… — print the path of the first Python interpreter that
# imports every MODULE (e.g. `numpy`, or `numpy torch`), exit 1 if none does.
#
# Debian's system interpreter comes first: the first python3 on PATH may be a
# separate installation (pyenv, a venv) without Debian's python3-numpy and
# python3-torch. The Makefile (PYTHON, PYTHON_TORCH), the tests (through
# MIMRL_PYTHON) and the bench and paper scripts all get their interpreter here.
set -u
mods=${*:-numpy}
imports=$(printf 'import %s;' $mods)
seen=" "
for p in /usr/bin/python3 $(command -v -a python3 2>/dev/null); do
  case "$seen" in *" $p "*) continue ;; esac
  seen="$seen$p "
  [ -x "$p" ] || continue
  if "$p" -c "$imports" >/dev/null 2>&1; then
    echo "$p"
    exit 0
  fi
done
echo "find_python.sh: no python3 imports: $mods (apt-get install python3-numpy / python3-torch)" >&2
exit 1
