#!/usr/bin/env bash
# Packs the GPU kit from BUILD_DIR, unpacks it in a fresh directory and runs it there with
# `env -i` (no build tree, no LD_LIBRARY_PATH, nothing of the caller's environment): every
# library must resolve to the kit or to the host's glibc, driver and CUDA libraries, the step
# that needs no GPU must pass, and each GPU step must say "no GPU" (or pass, on a GPU machine).
# Usage: gpu_kit_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/moe-gpu-kit-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bash "$src/tools/gpu_kit.sh" pack "$build" "$tmp/kit.tar.xz"
mkdir "$tmp/elsewhere"
cd "$tmp/elsewhere"
xz -dc "$tmp/kit.tar.xz" | tar -xf -
rc=0
env -i PATH=/usr/bin:/bin HOME="$tmp/elsewhere" \
  bash moe-gpu-kit/src/tools/gpu_kit.sh run "$tmp/elsewhere/moe-gpu-kit" "$tmp/out" || rc=$?
summary=$tmp/out/summary.md
cat "$summary"
fail() { echo "gpu_kit_test: $*" >&2; exit 1; }
grep -q "^- libraries: every one resolves" "$summary" || fail "a library does not resolve"
grep -q "^- cpu_smoke: passed" "$summary" || fail "the kit's programs do not run: $(cat "$tmp/out/cpu_smoke.log")"
for step in cuda_ops nccl golden_cuda demo_sweep cuda_bench; do
  grep -Eq "^- $step: (no GPU|passed)" "$summary" || fail "step $step: $(grep "^- $step" "$summary")"
done
[[ $rc == 0 ]] || fail "the kit's run exited $rc"
echo "gpu_kit_test: passed"
