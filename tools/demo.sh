#!/usr/bin/env bash
# The end-to-end demo behind `make demo`. Usage: tools/demo.sh BUILD_DIR
set -euo pipefail
BUILD=${1:-build}
CLI="$BUILD/bin/moe-sweep"
OUT=${MOE_DEMO_OUT:-demo-out}
mkdir -p "$OUT"
"$CLI" version

# A tiny random Qwen3-MoE checkpoint in the published layout (the demo sweep's model), what it
# holds, and a multilingual prompt in its chat template, tokenised.
"$CLI" make-model "$OUT/model" --family qwen3_moe --layers 4 --seed 1 --force
"$CLI" inspect "$OUT/model"
"$CLI" tokenize "$OUT/model" --chat --system "Answer briefly." \
  --text "Hello! Grüß Gott. ¿Qué tal? 你好，世界 こんにちは नमस्ते হ্যালো مرحبا สวัสดี 🙂 12345"
