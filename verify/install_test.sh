#!/usr/bin/env bash
# install_test.sh DIR — `make install` into the fresh prefix DIR/prefix (and
# a DESTDIR staging install + uninstall), then build verify/install/prog.c
# against the installed files with `pkg-config --cflags --libs mimrl`
# (PKG_CONFIG_PATH = DIR/prefix/lib/pkgconfig) and again statically from
# libmimrl.a with `pkg-config --static`, run both and compare their OUT.npz
# byte for byte. BLAS and VARIANT from MIMRL_BLAS / MIMRL_VARIANT (make test
# sets them). Prints "install test: ok …" and exits 0, else names the step.
set -euo pipefail
dir=$1
blas=${MIMRL_BLAS:-openblas}
variant=${MIMRL_VARIANT:-$blas}
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$dir" && mkdir -p "$dir"
prefix=$dir/prefix
# the test may run under make test: the nested make must not join its jobserver
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$root" BLAS="$blas" VARIANT="$variant" "$@"; }
mk install PREFIX="$prefix" >"$dir/install.log" 2>&1 || { echo "make install failed:"; cat "$dir/install.log"; exit 1; }
for f in bin/mimrl lib/libmimrl.a lib/libmimrl.so lib/libmimrl.so.0 lib/pkgconfig/mimrl.pc include/mimrl/mimrl.h; do
    [ -e "$prefix/$f" ] || { echo "not installed: $f"; exit 1; }
done
so=$(readlink "$prefix/lib/libmimrl.so.0")
soname=$(objdump -p "$prefix/lib/$so" | awk '/SONAME/ {print $2}')
[ "$soname" = libmimrl.so.0 ] || { echo "soname of $so is '$soname', want libmimrl.so.0"; exit 1; }
"$prefix/bin/mimrl" version >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
flags=$(pkg-config --cflags --libs mimrl) || { echo "pkg-config --cflags --libs mimrl failed"; exit 1; }
static=$(pkg-config --static --cflags --libs mimrl | sed 's/-lmimrl/-l:libmimrl.a/')
cc -std=c11 -Wall -Wextra -Werror -o "$dir/prog" "$root/verify/install/prog.c" $flags -lm
cc -std=c11 -Wall -Wextra -Werror -o "$dir/prog_static" "$root/verify/install/prog.c" $static -lm
if ldd "$dir/prog_static" | grep -q libmimrl; then echo "prog_static links libmimrl.so"; exit 1; fi
out=$(LD_LIBRARY_PATH=$prefix/lib "$dir/prog" "$dir/out_shared.npz")
LD_LIBRARY_PATH=$prefix/lib ldd "$dir/prog" | grep "libmimrl.so.0 => $prefix/lib" >/dev/null || { echo "prog does not load the installed libmimrl.so.0"; exit 1; }
"$dir/prog_static" "$dir/out_static.npz" >/dev/null
cmp -s "$dir/out_shared.npz" "$dir/out_static.npz" || { echo "shared and static builds wrote different OUT.npz"; exit 1; }
# staging install (DESTDIR) and uninstall leave nothing behind
mk install DESTDIR="$dir/stage" PREFIX=/opt/mimrl >>"$dir/install.log" 2>&1 || { echo "make install DESTDIR failed"; exit 1; }
grep -q '^prefix=/opt/mimrl$' "$dir/stage/opt/mimrl/lib/pkgconfig/mimrl.pc" || { echo "DESTDIR leaked into mimrl.pc"; exit 1; }
mk uninstall DESTDIR="$dir/stage" PREFIX=/opt/mimrl >>"$dir/install.log" 2>&1
left=$(find "$dir/stage" -type f -o -type l)
[ -z "$left" ] || { echo "make uninstall left: $left"; exit 1; }
echo "install test: ok — $out"
