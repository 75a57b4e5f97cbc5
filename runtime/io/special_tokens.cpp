// load_special_tokens: bos/eos/pad ids and add_bos from the JSON files of a checkpoint directory.
#include <algorithm>
#include <functional>

#include "runtime/core/error.h"
#include "runtime/io/json_util.h"
#include "runtime/io/model_config.h"

namespace moe::io {
namespace {

std::optional<Json> read_optional(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::exists(p, ec)) return std::nullopt;
  return read_json_file(p);
}

// tokenizer_config.json spells a token as a string or as {"content": "...", ...} (AddedToken).
std::string token_text(const JsonObject& tc, std::string_view key) {
  const Json* v = tc.find(key);
  if (!v) return "";
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object() && v->contains("content") && (*v)["content"].is_string())
    return (*v)["content"].get<std::string>();
  tc.fail(key, "a token string, {\"content\": ...} or null");
}

// True if a TemplateProcessing post-processor (possibly inside a Sequence) starts the single
// template with a special token: the tokenizer then adds BOS by itself.
bool post_processor_adds_bos(const Json& pp) {
  if (!pp.is_object()) return false;
  const std::string type = pp.value("type", "");
  if (type == "Sequence" && pp.contains("processors") && pp["processors"].is_array()) {
    return std::any_of(pp["processors"].begin(), pp["processors"].end(), post_processor_adds_bos);
  }
  if (type != "TemplateProcessing" || !pp.contains("single") || !pp["single"].is_array() ||
      pp["single"].empty())
    return false;
  return pp["single"][0].is_object() && pp["single"][0].contains("SpecialToken");
}

}  // namespace

SpecialTokens load_special_tokens(const std::filesystem::path& dir) {
  SpecialTokens st;
  const auto config_path = dir / "config.json";
  const Json config_json = read_json_file(config_path);
  const JsonObject config(config_json, config_path.string());
  const auto gen_path = dir / "generation_config.json";
  const auto gen_json = read_optional(gen_path);
  const auto tc_path = dir / "tokenizer_config.json";
  const auto tc_json = read_optional(tc_path);
  const auto tj_path = dir / "tokenizer.json";
  std::optional<Json> tj_json;  // read only when needed (it can be tens of MB)
  bool tj_read = false;
  auto tokenizer_json = [&]() -> const Json* {
    if (!tj_read) {
      tj_json = read_optional(tj_path);
      tj_read = true;
    }
    return tj_json && tj_json->is_object() ? &*tj_json : nullptr;
  };

  std::optional<JsonObject> gen, tc;
  if (gen_json) gen.emplace(*gen_json, gen_path.string());
  if (tc_json) tc.emplace(*tc_json, tc_path.string());

  // A token's id: tokenizer_config.json's added_tokens_decoder, then tokenizer.json's
  // added_tokens, then its model vocabulary.
  auto resolve = [&](const std::string& text) -> std::optional<int64_t> {
    if (tc) {
      if (auto dec = tc->opt_object("added_tokens_decoder")) {
        for (auto it = dec->json().begin(); it != dec->json().end(); ++it) {
          if (it->is_object() && it->value("content", "") == text) {
            try {
              return std::stoll(it.key());
            } catch (const std::exception&) {
              dec->fail(it.key(), "an object keyed by token id");
            }
          }
        }
      }
    }
    if (const Json* tj = tokenizer_json()) {
      if (tj->contains("added_tokens") && (*tj)["added_tokens"].is_array()) {
        for (const Json& t : (*tj)["added_tokens"])
          if (t.is_object() && t.value("content", "") == text && t.contains("id") &&
              t["id"].is_number_integer())
            return t["id"].get<int64_t>();
      }
      if (tj->contains("model") && (*tj)["model"].is_object()) {
        const Json& m = (*tj)["model"];
        if (m.contains("vocab") && m["vocab"].is_object()) {
          auto it = m["vocab"].find(text);
          if (it != m["vocab"].end() && it->is_number_integer()) return it->get<int64_t>();
        }
      }
    }
    return std::nullopt;
  };
  auto resolve_required = [&](std::string_view key, const std::string& text) -> int64_t {
    if (auto id = resolve(text)) return *id;
    throw input_error(tc->where(key), "expected a token listed in added_tokens_decoder or in {}'s "
                      "added_tokens/vocabulary, found \"{}\" in neither", tj_path.filename().string(),
                      text);
  };

  if (tc) {
    st.bos_token = token_text(*tc, "bos_token");
    st.eos_token = token_text(*tc, "eos_token");
    st.pad_token = token_text(*tc, "pad_token");
  }

  // bos / pad: generation_config.json, then config.json, then the tokenizer_config string.
  auto pick = [&](const char* key, const std::string& text) -> std::optional<int64_t> {
    if (gen) {
      if (auto v = gen->opt_int(key)) return v;
    }
    if (auto v = config.opt_int(key)) return v;
    if (!text.empty()) {
      return resolve_required(std::string_view(key) == "bos_token_id" ? "bos_token" : "pad_token",
                              text);
    }
    return std::nullopt;
  };
  st.bos = pick("bos_token_id", st.bos_token);
  st.pad = pick("pad_token_id", st.pad_token);

  // eos: every stop id, in order, without repeats.
  auto add_eos = [&](int64_t id) {
    if (std::find(st.eos.begin(), st.eos.end(), id) == st.eos.end()) st.eos.push_back(id);
  };
  if (gen)
    for (int64_t id : gen->int_or_int_list("eos_token_id")) add_eos(id);
  for (int64_t id : config.int_or_int_list("eos_token_id")) add_eos(id);
  if (!st.eos_token.empty()) {
    if (auto id = resolve(st.eos_token)) add_eos(*id);
    else if (st.eos.empty()) resolve_required("eos_token", st.eos_token);  // throws
  }

  // As transformers 5: with a tokenizer.json its post_processor decides (tokenizer_config's
  // add_bos_token is dropped); without one, tokenizer_config.json's add_bos_token.
  if (const Json* tj = tokenizer_json()) {
    st.add_bos = tj->contains("post_processor") && post_processor_adds_bos((*tj)["post_processor"]);
  } else if (tc) {
    st.add_bos = tc->opt_bool("add_bos_token", false);
  }
  return st;
}

}  // namespace moe::io
