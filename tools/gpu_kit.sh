#!/usr/bin/env bash
# The GPU kit: everything the CUDA checks need, built here and run on a GPU machine that has
# the NVIDIA driver and the CUDA 13 runtime libraries but none of moe-sweep's other libraries
# and no package registry (the device machines: CUDA, PyTorch, no yaml-cpp, HDF5, oneDNN, MPI).
#
#   tools/gpu_kit.sh pack [BUILD_DIR] [KIT.tar.xz]
#       BUILD_DIR (default build) must be a build with the CUDA backend (`moe-sweep version`
#       says "cuda: yes"; CMAKE_CUDA_ARCHITECTURES 80 and 90 by default). Bundles moe-sweep,
#       the test programs with CUDA cases (unit_backend: the conformance suite's cuda cases and
#       the device round trip; unit_golden: parity with transformers on cuda for all four
#       families; unit_ep: NCCL), bench/cuda_backend_bench, every shared library they need
#       except glibc's, the NVIDIA driver's and the CUDA toolkit's (libcudart, libcublas,
#       libcublasLt, libnccl: 0.8 GB, which the GPU machine has; `run` finds them), with
#       RPATH $ORIGIN/../lib, stripped; the golden fixtures, configs/demo.yaml and its data,
#       and this script. Default output: BUILD_DIR/gpu-kit.tar.xz.
#   tools/gpu_kit.sh run KIT.tar.xz|KIT_DIR [OUT_DIR]
#       Unpacks under /tmp (a .tar.xz), prints the GPU, driver and CUDA versions, checks that
#       every library resolves, then runs each step with a time limit: the CUDA per-op tests,
#       the NCCL test, golden parity on cuda, the demo sweep on cuda and on the CPU (expert
#       sets and accuracies compared), the CUDA bench. Writes OUT_DIR/summary.md (one line per
#       step: passed, FAILED, timed out, or "no GPU") and OUT_DIR/<step>.log. Exit 0 when no
#       step failed; without a GPU every GPU step says "no GPU" and the kit still checks that
#       it is complete. OUT_DIR defaults to $OUT where set (the device tool), else ./gpu-kit-out.
# `make gpu-kit` packs; the test gpu_kit_without_gpu packs, then runs the kit with `env -i`
# in another directory, away from the build tree.
set -euo pipefail

die() { echo "gpu_kit.sh: $*" >&2; exit 2; }

# Libraries that come from the machine the kit runs on: glibc's, the driver's, the CUDA
# toolkit's.
host_lib() {
  case $1 in
    ld-linux*|libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|libresolv.so*|libutil.so*) return 0 ;;
    libcuda.so*|libnvidia*) return 0 ;;
    libcudart.so*|libcublas.so*|libcublasLt.so*|libnccl.so*) return 0 ;;
  esac
  return 1
}
readonly KIT_BINS=(bin/moe-sweep tests/unit_backend tests/unit_golden tests/unit_ep
                   bench/cuda_backend_bench)

pack() {
  local build=${1:-build} out=${2:-}
  [[ -d $build ]] || die "pack: $build: no such build directory"
  build=$(cd "$build" && pwd)
  out=${out:-$build/gpu-kit.tar.xz}
  local src; src=$(cd "$(dirname "$0")/.." && pwd)
  for b in "${KIT_BINS[@]}"; do
    [[ -x $build/$b ]] || die "pack: $build/$b not built (cmake --build $build)"
  done
  "$build/bin/moe-sweep" version | grep -q '^cuda: yes' ||
    die "pack: $build has no CUDA backend (the CUDA toolkit and NCCL were not found at configure)"
  command -v patchelf >/dev/null || die "pack: patchelf missing (tools/install-deps.sh installs it)"
  local stage; stage=$(mktemp -d "${TMPDIR:-/tmp}/moe-gpu-kit.XXXXXX")
  trap 'rm -rf "$stage"' RETURN
  local kit=$stage/moe-gpu-kit
  mkdir -p "$kit/bin" "$kit/lib" "$kit/src/tests" "$kit/src/configs" "$kit/src/tools"
  for b in "${KIT_BINS[@]}"; do
    cp "$build/$b" "$kit/bin/"
    # Every library the binary loads (ldd follows the whole tree), but the host's.
    ldd "$build/$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
      host_lib "$name" && continue
      [[ -e $kit/lib/$name ]] || cp -L "$path" "$kit/lib/$name"
    done
  done
  strip --strip-unneeded "$kit"/bin/* "$kit"/lib/* 2>/dev/null || true
  for f in "$kit"/bin/*; do patchelf --set-rpath '$ORIGIN/../lib' "$f"; done
  for f in "$kit"/lib/*; do patchelf --set-rpath '$ORIGIN' "$f"; done
  cp -r "$src/tests/golden" "$kit/src/tests/"
  cp -r "$src/configs/demo.yaml" "$src/configs/demo_data" "$kit/src/configs/"
  cp "$src/tools/gpu_kit.sh" "$kit/src/tools/"
  git -C "$src" describe --always --dirty > "$kit/VERSION" 2>/dev/null || echo unknown > "$kit/VERSION"
  tar -C "$stage" -cf - moe-gpu-kit | xz -T0 -6 > "$out"
  echo "gpu_kit.sh: wrote $out ($(du -h "$out" | cut -f1); $(ls "$kit/lib" | wc -l) libraries" \
    "bundled; from the GPU machine: glibc, the driver, libcudart, libcublas(Lt), libnccl)"
}

# The CUDA toolkit's libraries on the GPU machine: the toolkit's folders, then the pip wheels
# of PyTorch's environment (nvidia/*/lib).
cuda_lib_dirs() {
  local d
  for d in ${CUDA_HOME:+$CUDA_HOME/lib64} ${CUDA_HOME:+$CUDA_HOME/lib} /usr/local/cuda/lib64 \
           /usr/local/cuda/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
           /usr/lib/x86_64-linux-gnu/nvidia; do
    [[ -d $d ]] && printf '%s:' "$d"
  done
  for d in /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib \
           /usr/local/lib/python3*/dist-packages/nvidia/*/lib; do
    [[ -d $d ]] && printf '%s:' "$d"
  done
  return 0
}

run() {
  local kit=${1:-} out=${2:-${OUT:-$PWD/gpu-kit-out}}
  [[ -n $kit ]] || die "run: usage: gpu_kit.sh run KIT.tar.xz|KIT_DIR [OUT_DIR]"
  if [[ -f $kit ]]; then
    local dir; dir=$(mktemp -d /tmp/moe-gpu-kit-run.XXXXXX)
    xz -dc "$kit" | tar -C "$dir" -xf -
    kit=$dir/moe-gpu-kit
  fi
  [[ -x $kit/bin/moe-sweep ]] || die "run: $kit is not a GPU kit (no bin/moe-sweep)"
  kit=$(cd "$kit" && pwd)
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  export LD_LIBRARY_PATH="$(cuda_lib_dirs)${LD_LIBRARY_PATH:-}"
  export MOE_SOURCE_DIR=$kit/src MOE_CLI=$kit/bin/moe-sweep OMP_WAIT_POLICY=PASSIVE
  local summary=$out/summary.md failed=0
  {
    echo "# moe-sweep GPU kit $(cat "$kit/VERSION"), $(date -u +%FT%TZ) on $(hostname)"
    echo
  } > "$summary"
  note() { echo "$*" | tee -a "$summary"; }

  # The machine.
  local gpu="no GPU"
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)
  fi
  local nvcc; nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  note "- GPU: $gpu; CUDA: $([[ -x $nvcc ]] && "$nvcc" --version | tail -1 || echo 'no nvcc')"
  note "- moe-sweep: $("$kit/bin/moe-sweep" version 2>&1 | tr '\n' ';' | sed 's/;$//')"
  note "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"

  # Completeness: every library of every binary resolves, to the kit or to the host's own.
  local missing=0 b
  for b in "$kit"/bin/*; do
    while read -r name _ path _; do
      if [[ $path == "not" ]]; then
        missing=1
        note "- MISSING library $name of $(basename "$b")"
      elif ! host_lib "$name" && [[ $(realpath -m "$path") != "$kit"/lib/* ]]; then
        missing=1
        note "- library $name of $(basename "$b") resolves outside the kit: $path"
      fi
    done < <(ldd "$b" | awk '$2 == "=>"')
  done
  if [[ $missing == 0 ]]; then
    note "- libraries: every one resolves (the kit's own, or glibc, the driver and CUDA's)"
  else
    failed=1
  fi

  # The steps: name, time limit (s), whether it needs a GPU, command.
  local have_gpu=0
  "$kit/bin/moe-sweep" version >/dev/null 2>&1 &&
    "$kit/bin/unit_backend" --gtest_filter='CudaSelection.WithAGpu*' 2>&1 | grep -q '\[       OK \]' &&
    have_gpu=1
  step() {
    local name=$1 limit=$2 needs_gpu=$3
    shift 3
    if [[ $needs_gpu == 1 && $have_gpu == 0 ]]; then
      note "- $name: no GPU"
      return 0
    fi
    local t0=$SECONDS rc=0
    (cd "$out" && timeout "$limit" "$@") > "$out/$name.log" 2>&1 || rc=$?
    local took=$((SECONDS - t0))
    if [[ $rc == 0 ]]; then
      note "- $name: passed (${took} s)"
    elif [[ $rc == 124 ]]; then
      note "- $name: TIMED OUT after ${limit} s (log: $name.log)"
      failed=1
    else
      note "- $name: FAILED, exit $rc (${took} s; log: $name.log)"
      failed=1
    fi
  }
  # Without a GPU too: the test programs start, find the kit's fixtures and CLI, and say why
  # the CUDA backend is unavailable.
  step cpu_smoke 60 0 "$kit/bin/unit_backend" --gtest_filter='CudaSelection.*'
  step cuda_ops 150 1 "$kit/bin/unit_backend" --gtest_filter='*cuda*:CudaSelection.*'
  step nccl 60 1 "$kit/bin/unit_ep" --gtest_filter='Nccl*'
  step golden_cuda 150 1 "$kit/bin/unit_golden" --gtest_filter='*_cuda'
  step demo_sweep 240 1 bash "$kit/src/tools/gpu_kit.sh" demo "$kit" "$out/demo"
  step cuda_bench 120 1 "$kit/bin/cuda_backend_bench"
  echo >> "$summary"
  [[ $failed == 0 ]] && note "result: no step failed" || note "result: FAILED"
  return $failed
}

# The demo sweep (configs/demo.yaml) on the CPU and on cuda, from one made checkpoint: the
# expert sets and the accuracies must agree.
demo() {
  local kit=$1 dir=$2
  mkdir -p "$dir"
  local cli=$kit/bin/moe-sweep
  export MOE_DEMO_DATA=$kit/src/configs/demo_data
  MOE_DEMO_DIR=$dir "$cli" make-model "$dir/model" --family qwen3_moe --layers 4 --seed 1 --force
  for backend in cpu cuda; do
    MOE_DEMO_DIR=$dir/$backend "$cli" run "$kit/src/configs/demo.yaml" \
      "models.tiny.path=$dir/model" "models.tiny.backend=$backend" --no-progress
    "$cli" merge "$dir/$backend/sweep"
  done
  python3 - "$dir/cpu/sweep/results.h5" "$dir/cuda/sweep/results.h5" <<'PY'
import sys
import h5py
import numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
bad = []
def walk(name, obj):
    if isinstance(obj, h5py.Dataset) and name.startswith(("experts/", "accuracy")):
        other = b.get(name)
        if other is None or not np.array_equal(obj[()], other[()]):
            bad.append(name)
a.visititems(walk)
print(f"expert sets and accuracy: {len(bad)} datasets differ" + (": " + ", ".join(bad) if bad else ""))
sys.exit(1 if bad else 0)
PY
}

case ${1:-} in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  demo) shift; demo "$@" ;;
  *) die "usage: gpu_kit.sh pack [BUILD_DIR] [KIT.tar.xz] | run KIT [OUT_DIR]" ;;
esac
