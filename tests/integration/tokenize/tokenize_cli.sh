#!/usr/bin/env bash
# `moe-sweep tokenize` end to end: a chat-formatted multilingual prompt on a tokenizer.json, and
# bad input (a tokenizer.json with an unknown model type, invalid JSON, a missing file, invalid
# UTF-8 text, bad flags), each of which must be one error line naming the file/key, exit 2.
# Usage: tokenize_cli.sh (MOE_CLI and MOE_SOURCE_DIR come from the test environment)
set -euo pipefail
CLI=${MOE_CLI:?MOE_CLI is not set}
SRC=${MOE_SOURCE_DIR:?MOE_SOURCE_DIR is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error NAME EXPECTED_SUBSTRING ARGS...: exit code 2, one line on stderr containing it.
expect_error() {
  local name=$1 want=$2
  shift 2
  local rc=0
  "$CLI" tokenize "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [[ $rc -eq 2 ]] || fail "$name: exit code $rc, expected 2 (stderr: $(cat "$tmp/err"))"
  [[ $(wc -l <"$tmp/err") -eq 1 ]] || fail "$name: expected one error line, got: $(cat "$tmp/err")"
  grep -qF -- "$want" "$tmp/err" || fail "$name: '$want' not in: $(cat "$tmp/err")"
  echo "ok: $name: $(cat "$tmp/err")"
}

# A working tokenizer directory: a committed Qwen2-style fixture tokenizer.
mkdir -p "$tmp/good"
cp "$SRC/tests/data/tokenizers/qwen2_regex.tokenizer.json" "$tmp/good/tokenizer.json"
out=$("$CLI" tokenize "$tmp/good" --family qwen3_moe --chat --system "Be brief." \
      --text "Wie spät ist es? 今何時ですか？ 🙂")
grep -qF 'text: "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWie spät ist es?' \
  <<<"$out" || fail "chat text not printed: $out"
grep -qF '<think>\n\n</think>\n\n"' <<<"$out" || fail "thinking-off prompt missing: $out"
grep -qE '^ +[0-9]+ +[0-9]+ +"<\|im_start\|>" +"<\|im_start\|>"  special$' <<<"$out" ||
  fail "special piece line missing: $out"
"$CLI" tokenize "$tmp/good" --family qwen3_moe --text "x y" --json | /usr/bin/python3 -c \
  'import json,sys; d=json.load(sys.stdin); assert d["ids"] and len(d["pieces"])==len(d["ids"]), d'
echo "ok: chat-formatted multilingual prompt and --json"

# The family and the bos_token from a checkpoint's config.json and tokenizer_config.json (the
# published OLMoE files): the Tulu template starts with bos_token.
mkdir -p "$tmp/olmoe"
cp "$SRC/tests/data/configs/olmoe-1b-7b/"{config.json,tokenizer_config.json} "$tmp/olmoe/"
cp "$SRC/tests/data/tokenizers/gpt2_bytelevel.tokenizer.json" "$tmp/olmoe/tokenizer.json"
out=$("$CLI" tokenize "$tmp/olmoe" --chat --text "Hallo")
grep -qF 'family: olmoe' <<<"$out" || fail "family not read from config.json: $out"
grep -qF 'text: "<|endoftext|><|user|>\nHallo\n<|assistant|>\n"' <<<"$out" ||
  fail "OLMoE chat text with bos_token not printed: $out"
echo "ok: family and bos_token from the checkpoint's config files"

# Bad input.
mkdir -p "$tmp/wordpiece" "$tmp/badjson" "$tmp/empty"
cat >"$tmp/wordpiece/tokenizer.json" <<'JSON'
{"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": null,
 "model": {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}}}
JSON
printf '{"version": "1.0", "model": {"type": "BPE", "vocab": {"a": 0,}}}' >"$tmp/badjson/tokenizer.json"
printf 'bad \xff\xfe bytes' >"$tmp/latin1.txt"

expect_error "unknown model type" \
  "$tmp/wordpiece/tokenizer.json: model.type: expected BPE, found WordPiece" \
  "$tmp/wordpiece" --family olmoe --text hi
expect_error "invalid JSON" "$tmp/badjson/tokenizer.json: byte" "$tmp/badjson" --family olmoe --text hi
expect_error "missing tokenizer.json" "$tmp/empty/tokenizer.json: expected a readable tokenizer.json" \
  "$tmp/empty" --family olmoe --text hi
expect_error "invalid UTF-8 text" "$tmp/latin1.txt: expected UTF-8 text, found an invalid byte at offset 4" \
  "$tmp/good" --family qwen3_moe --file "$tmp/latin1.txt"
expect_error "missing text file" "$tmp/nope.txt: expected a readable text file" \
  "$tmp/good" --family qwen3_moe --file "$tmp/nope.txt"
expect_error "no text" "expected exactly one of --text or --file, found neither" \
  "$tmp/good" --family qwen3_moe
expect_error "unknown family" "--family: expected qwen3_moe, olmoe, gpt_oss or phimoe, found 'bert'" \
  "$tmp/good" --family bert --text hi
expect_error "bad reasoning effort" "reasoning_effort: expected low, medium or high, found 'max'" \
  "$tmp/good" --family gpt_oss --chat --reasoning max --text hi
echo "tokenize_cli: all checks passed"
