// make_tokenizer: builds a small, real tokenizer.json of a family's tokenizer kind, for the
// random checkpoints `moe-sweep make-model` writes (tests, the demo, benchmarks).
//
// The kinds (runtime/models/README.md section 5): qwen3_moe -> Qwen2-style Split(regex)+ByteLevel
// BPE; olmoe -> GPT-2 ByteLevel(use_regex) BPE; gpt_oss -> o200k-style Split(regex)+ByteLevel BPE;
// phimoe -> SentencePiece-style BPE with byte_fallback and the metaspace. The vocabulary is the
// byte alphabet (or byte-fallback tokens) plus merges learned from a built-in multilingual text,
// plus the family's special tokens (the published texts) placed after the learned vocabulary.
// Deterministic: the same arguments give the same bytes. Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "runtime/io/model_config.h"

namespace moe::io {

struct MadeTokenizer {
  std::string tokenizer_json;                  // the tokenizer.json text
  std::map<std::string, int32_t> special_ids;  // "<|im_end|>" -> id, for the family's specials
  int64_t size = 0;                            // number of ids used (<= max_vocab)
};

// max_vocab: the model's vocab_size; the tokenizer uses at most that many ids.
MadeTokenizer make_tokenizer(Family family, int64_t max_vocab);

}  // namespace moe::io
