// The Engine constructor that takes an io::Tokenizer. Kept in its own translation unit so that
// programs driving the engine on token ids alone do not link the tokenizer.
#include "runtime/engine/engine.h"
#include "runtime/io/tokenizer.h"

namespace moe {

Engine::Engine(std::shared_ptr<Model> model, std::shared_ptr<const io::Tokenizer> tokenizer,
               EngineOptions options)
    : Engine(std::move(model),
             tokenizer ? TextDecoder([tok = std::move(tokenizer)](std::span<const int32_t> ids) {
               return tok->decode(ids, /*skip_special_tokens=*/false);
             })
                       : TextDecoder(),
             options) {}

}  // namespace moe
