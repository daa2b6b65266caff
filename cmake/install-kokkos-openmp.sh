#!/usr/bin/env bash
# Builds Kokkos with the Serial and OpenMP backends (plus Kokkos Kernels, header-only) from
# Debian's own `trilinos` source package, and installs them into one prefix that CMake finds
# through Kokkos' normal package config:
#
#     cmake -S . -B build-openmp -DKokkos_ROOT=/opt/bilevel/kokkos-3.4.01-openmp
#
# (`cmake --preset openmp` does exactly that). Debian's binary packages (libtrilinos-kokkos-dev)
# ship Kokkos 3.4 with Serial only; this script leaves them untouched.
#
# Idempotent and cached: a stamp in the prefix records the source and the build settings, and a
# second run with the same ones does nothing. Downloads one 166 MB tarball through
# `apt-get source --download-only` (adding a deb-src entry for the archive if there is none),
# keeps only packages/kokkos and packages/kokkos-kernels (27 MB) and deletes the rest.
#
#   env: BILEVEL_KOKKOS_PREFIX  install prefix (default /opt/bilevel/kokkos-3.4.01-openmp)
#        BILEVEL_CACHE          source cache (default /var/cache/bilevel)
#        JOBS                   parallel build jobs (default: nproc)
set -euo pipefail
prefix=${BILEVEL_KOKKOS_PREFIX:-/opt/bilevel/kokkos-3.4.01-openmp}
cache=${BILEVEL_CACHE:-/var/cache/bilevel}
jobs=${JOBS:-$(nproc)}
say() { echo "install-kokkos-openmp: $*"; }
die() { echo "install-kokkos-openmp: $*" >&2; exit 1; }

as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || die "run as root or install sudo"
  as_root=(sudo)
fi

# Everything that changes the installed result goes into the stamp.
settings="trilinos 13.2.0 kokkos 3.4.01 Serial+OpenMP Release static PIC; kernels header-only; $(c++ --version | head -1)"
if [ -f "$prefix/bilevel-stamp.txt" ] && [ "$(cat "$prefix/bilevel-stamp.txt")" = "$settings" ] &&
   [ -f "$prefix/lib/cmake/Kokkos/KokkosConfig.cmake" ]; then
  say "Kokkos 3.4.01 (Serial, OpenMP) already installed in $prefix"
  exit 0
fi

src=$cache/trilinos-13.2.0
if [ ! -f "$src/packages/kokkos/CMakeLists.txt" ] || [ ! -f "$src/packages/kokkos-kernels/CMakeLists.txt" ]; then
  # deb-src entry for Debian's archive, modelled on the system's own deb entry.
  if ! apt-cache showsrc trilinos 2>/dev/null | grep -q '^Package: trilinos'; then
    . /etc/os-release
    uri=$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    uri=${uri:-http://deb.debian.org/debian}
    say "adding a deb-src entry for $uri $VERSION_CODENAME"
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" "$VERSION_CODENAME" | "${as_root[@]}" tee /etc/apt/sources.list.d/bilevel-deb-src.sources >/dev/null
    "${as_root[@]}" apt-get update -qq
  fi
  "${as_root[@]}" mkdir -p "$cache"
  work=$("${as_root[@]}" mktemp -d "$cache/download.XXXXXX")
  trap '"${as_root[@]}" rm -rf "$work"' EXIT
  say "downloading Debian's trilinos source package (166 MB)"
  (cd "$work" && "${as_root[@]}" apt-get source --download-only -qq -o APT::Sandbox::User=root trilinos >/dev/null)
  tarball=$(ls "$work"/trilinos_*.orig.tar.gz)
  # apt-get verified the tarball against the signed Sources index; extract only Kokkos.
  "${as_root[@]}" tar -xzf "$tarball" -C "$work" --wildcards '*/packages/kokkos/*' '*/packages/kokkos-kernels/*'
  "${as_root[@]}" rm -rf "$src"
  "${as_root[@]}" mkdir -p "$src"
  "${as_root[@]}" mv "$work"/Trilinos-*/packages "$src/"
fi
grep -q 'set(Kokkos_VERSION_PATCH 01)' "$src/packages/kokkos/CMakeLists.txt" ||
  die "$src/packages/kokkos is not Kokkos 3.4.01"

build=$(mktemp -d "${TMPDIR:-/tmp}/bilevel-kokkos.XXXXXX")
trap 'rm -rf "$build"; [ -n "${work:-}" ] && "${as_root[@]}" rm -rf "$work"; true' EXIT
say "building Kokkos 3.4.01 (Serial, OpenMP) with $jobs jobs into $prefix"
common=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_CXX_STANDARD=17
        -DBUILD_SHARED_LIBS=OFF -DCMAKE_POSITION_INDEPENDENT_CODE=ON)
cmake -S "$src/packages/kokkos" -B "$build/kokkos" "${common[@]}" \
  -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON >"$build/kokkos.log" 2>&1 ||
  { cat "$build/kokkos.log" >&2; die "configuring Kokkos failed"; }
cmake --build "$build/kokkos" -j "$jobs" >>"$build/kokkos.log" 2>&1 ||
  { tail -40 "$build/kokkos.log" >&2; die "building Kokkos failed"; }
"${as_root[@]}" rm -rf "$prefix"
"${as_root[@]}" cmake --install "$build/kokkos" >/dev/null

# Kokkos Kernels without explicit instantiations: header-only, what the benchmarks' baselines
# (dot, axpby, GEMM) need, in seconds rather than the full library's half hour.
eti=()
for t in DOUBLE FLOAT COMPLEX_DOUBLE COMPLEX_FLOAT ORDINAL_INT ORDINAL_INT64_T OFFSET_INT \
         OFFSET_SIZE_T LAYOUTLEFT LAYOUTRIGHT; do eti+=("-DKokkosKernels_INST_$t=OFF"); done
cmake -S "$src/packages/kokkos-kernels" -B "$build/kernels" "${common[@]}" -DKokkos_ROOT="$prefix" \
  "${eti[@]}" -DKokkosKernels_ENABLE_TESTS=OFF >"$build/kernels.log" 2>&1 ||
  { cat "$build/kernels.log" >&2; die "configuring Kokkos Kernels failed"; }
cmake --build "$build/kernels" -j "$jobs" >>"$build/kernels.log" 2>&1 ||
  { tail -40 "$build/kernels.log" >&2; die "building Kokkos Kernels failed"; }
"${as_root[@]}" cmake --install "$build/kernels" >/dev/null
echo "$settings" | "${as_root[@]}" tee "$prefix/bilevel-stamp.txt" >/dev/null
say "done: configure Bilevel with -DKokkos_ROOT=$prefix (or cmake --preset openmp)"
