#!/usr/bin/env bash
# Installs what Bilevel needs to build, test and benchmark on Debian 12: the compiler and CMake,
# Kokkos 3.4 and Kokkos Kernels from Debian's Trilinos packages (Serial backend), stb_image,
# CLI11, nlohmann-json, HDF5, GoogleTest, Google Benchmark, clang-format (the style test) and
# Open MPI (data-parallel training); then builds Kokkos 3.4.01 with
# OpenMP from Debian's trilinos source package (install-kokkos-openmp.sh, cached). Runs
# apt-get as root (through sudo if needed). BILEVEL_SKIP_OPENMP=1 skips the OpenMP Kokkos.
set -euo pipefail
packages=(
  build-essential cmake git ca-certificates
  libtrilinos-kokkos-dev libtrilinos-kokkos-kernels-dev
  libstb-dev libcli11-dev nlohmann-json3-dev libhdf5-dev
  libgtest-dev libbenchmark-dev clang-format
  libopenmpi-dev openmpi-bin
)
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "install-debian-deps: run as root or install sudo" >&2; exit 1; }
  as_root=(sudo)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-debian-deps: all ${#packages[@]} packages already installed"
else
  echo "install-debian-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -qq
  "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-debian-deps: done"
fi
if [ "${BILEVEL_SKIP_OPENMP:-0}" != 1 ]; then
  bash "$(dirname "$0")/install-kokkos-openmp.sh"
fi
