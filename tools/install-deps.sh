#!/usr/bin/env bash
# Installs the Debian packages moe-sweep needs to build, test and run its demo.
# Idempotent: installs only what is missing. As root it runs apt-get; otherwise it prints the
# exact command to run. Usage: tools/install-deps.sh [--with-cluster]
#   --with-cluster  also install SLURM (slurmctld, slurmd) and munge for the cluster tests.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev libomp-dev lld
  libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libhdf5-dev hdf5-tools
  libopenmpi-dev openmpi-bin
  libpcre2-dev libutf8proc-dev libcld2-dev libboost-dev libxxhash-dev
  # dnnl-config.cmake looks for OpenCL; its headers and library come only as a recommendation
  libdnnl-dev ocl-icd-opencl-dev
  libgtest-dev libgmock-dev
  # tools/gpu_kit.sh: the GPU kit's RPATHs
  patchelf
  # tools/cross_compile_check.py (make test): the runtime's plain C++ path, built for aarch64
  g++-aarch64-linux-gnu
  python3 python3-numpy python3-h5py python3-matplotlib python3-pandas
)
if [[ "${1:-}" == "--with-cluster" ]]; then
  PKGS+=(slurm-wlm slurm-client munge)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages; run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Package scripts must not try to start daemons inside containers without an init system.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
$cmd
