#!/usr/bin/env bash
# `moe-sweep make-model`, `inspect`, `tokenize` and `generate` end to end, for every family:
# a made checkpoint (bf16 in one file, f32 in shards) is described by inspect as made (family,
# layers, experts, top-k, hidden size, heads, parameters, dtypes, files, vocabulary, special
# tokens, layout), chat-formats and tokenises a multilingual prompt, and generates tokens.
# Usage: made_model_cli.sh (MOE_CLI comes from the test environment)
set -euo pipefail
CLI=${MOE_CLI:?MOE_CLI is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
has() { grep -qE -- "$2" <<<"$1" || fail "'$2' not in: $1"; }

help=$("$CLI" --help)
for sub in make-model inspect tokenize generate; do has "$help" "^  $sub "; done

for fam in qwen3_moe olmoe gpt_oss phimoe; do
  d="$tmp/$fam"
  k=3
  [[ $fam == phimoe ]] && k=2  # sparsemixer routes to exactly two experts
  "$CLI" make-model "$d" --family "$fam" --layers 3 --experts 6 --top-k $k --seed 1 >/dev/null
  out=$("$CLI" inspect "$d")
  has "$out" "^family +$fam \("
  has "$out" "^layers +3 "
  has "$out" "^experts +6 per MoE layer, top-$k,"
  has "$out" "^hidden size +[0-9]+$"
  has "$out" "^attention +[0-9]+ q heads / [0-9]+ kv heads x head_dim [0-9]+"
  has "$out" "^parameters +[0-9.]+ K total, [0-9.]+ K active per token"
  has "$out" "^(dtypes)? +BF16 +[0-9]+ tensors"
  has "$out" "^files +[0-9.]+ KB on disk in model.safetensors$"
  has "$out" "^vocabulary +1024 ids in the embedding, [0-9]+ in tokenizer.json"
  has "$out" "^special tokens +bos [0-9]+ "
  has "$out" "^stop ids +[0-9]+ "
  has "$out" "^layout +matches the published $fam layout"

  tok=$("$CLI" tokenize "$d" --chat --text "Grüß Gott! 你好 नमस्ते مرحبا 🙂 12345")
  has "$tok" "^family: $fam$"
  has "$tok" "你好 नमस्ते مرحبا 🙂 12345"
  "$CLI" generate "$d" --prompt "Hello" --chat --max-tokens 3 >/dev/null 2>"$tmp/log" ||
    fail "generate on $fam: $(cat "$tmp/log")"

  s="$tmp/${fam}_sharded"
  "$CLI" make-model "$s" --family "$fam" --dtype f32 --shard-size 200KB >/dev/null
  [[ -f "$s/model.safetensors.index.json" && ! -f "$s/model.safetensors" ]] ||
    fail "$fam: no sharded layout in $s: $(ls "$s")"
  out=$("$CLI" inspect "$s")
  has "$out" "^(dtypes)? +F32 +[0-9]+ tensors"
  has "$out" "on disk in [0-9]+ shards \+ model.safetensors.index.json$"
  has "$out" "^layout +matches the published $fam layout"
  echo "ok: $fam"
done
