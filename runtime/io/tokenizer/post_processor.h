// Post-processors of tokenizer.json ("post_processor" key): what encode() adds around a single
// sequence when add_special_tokens is on. Supported: TemplateProcessing (the "single" template),
// RobertaProcessing and BertProcessing (cls ... sep), ByteLevel (ids unchanged), Sequence.
// Immutable. Thread-safety: process() is const and safe concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/io/tokenizer/json_util.h"

namespace moe::io::tok {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // ids of one sequence -> ids with the special tokens added.
  virtual void process(std::vector<int32_t>& ids) const = 0;
};

std::unique_ptr<PostProcessor> make_post_processor(const Json& j, const JsonWhere& where);

}  // namespace moe::io::tok
