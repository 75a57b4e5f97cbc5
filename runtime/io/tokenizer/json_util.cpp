#include "runtime/io/tokenizer/json_util.h"

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

JsonWhere JsonWhere::key(std::string_view k) const {
  return JsonWhere(file_, path_.empty() ? std::string(k) : path_ + "." + std::string(k));
}

JsonWhere JsonWhere::index(size_t i) const {
  return JsonWhere(file_, path_ + "[" + std::to_string(i) + "]");
}

std::string JsonWhere::str() const {
  return path_.empty() ? file_ : file_ + ": " + path_;
}

std::string describe(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::string: {
      return fmt::format("'{}'", excerpt(j.get_ref<const std::string&>(), 40));
    }
    case Json::value_t::boolean:
      return j.get<bool>() ? "true" : "false";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "the number " + j.dump();
    default:
      return "an unsupported JSON value";
  }
}

void require_object(const Json& j, const JsonWhere& where) {
  if (!j.is_object()) throw input_error(where.str(), "expected an object, found {}", describe(j));
}

const Json* find_key(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

const Json& require_key(const Json& obj, std::string_view key, const JsonWhere& obj_where) {
  require_object(obj, obj_where);
  const Json* v = find_key(obj, key);
  if (!v) throw input_error(obj_where.str(), "expected key '{}', found no such key", key);
  return *v;
}

std::string get_string(const Json& obj, std::string_view key, const JsonWhere& obj_where,
                       const std::string& dflt) {
  const Json* v = find_key(obj, key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_string())
    throw input_error(obj_where.key(key).str(), "expected a string, found {}", describe(*v));
  return v->get<std::string>();
}

std::string require_string(const Json& obj, std::string_view key, const JsonWhere& obj_where) {
  const Json& v = require_key(obj, key, obj_where);
  if (!v.is_string())
    throw input_error(obj_where.key(key).str(), "expected a string, found {}", describe(v));
  return v.get<std::string>();
}

bool get_bool(const Json& obj, std::string_view key, const JsonWhere& obj_where, bool dflt) {
  const Json* v = find_key(obj, key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_boolean())
    throw input_error(obj_where.key(key).str(), "expected true or false, found {}", describe(*v));
  return v->get<bool>();
}

uint64_t get_uint(const Json& obj, std::string_view key, const JsonWhere& obj_where,
                  uint64_t dflt) {
  const Json* v = find_key(obj, key);
  if (!v || v->is_null()) return dflt;
  if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
    throw input_error(obj_where.key(key).str(), "expected a non-negative integer, found {}",
                      describe(*v));
  return v->get<uint64_t>();
}

char32_t require_char(const Json& obj, std::string_view key, const JsonWhere& obj_where) {
  const std::string s = require_string(obj, key, obj_where);
  size_t len = 0;
  char32_t cp = 0;
  if (!s.empty() && find_invalid_utf8(s) == std::string::npos) cp = decode_utf8(s, 0, len);
  if (len == 0 || len != s.size())
    throw input_error(obj_where.key(key).str(), "expected a single character, found {}",
                      describe(Json(s)));
  return cp;
}

std::string type_of(const Json& obj, const JsonWhere& obj_where) {
  require_object(obj, obj_where);
  return require_string(obj, "type", obj_where);
}

std::string pattern_of(const Json& obj, std::string_view key, const JsonWhere& obj_where,
                       bool& literal) {
  const Json& p = require_key(obj, key, obj_where);
  const JsonWhere w = obj_where.key(key);
  if (const Json* s = find_key(p, "String"); s && s->is_string()) {
    literal = true;
    return s->get<std::string>();
  }
  if (const Json* r = find_key(p, "Regex"); r && r->is_string()) {
    literal = false;
    return r->get<std::string>();
  }
  throw input_error(w.str(), "expected {{\"String\": ...}} or {{\"Regex\": ...}}, found {}",
                    describe(p));
}

void throw_unsupported(const JsonWhere& type_where, const std::string& found,
                       std::string_view supported) {
  throw input_error(type_where.str(), "expected one of {}, found {}", supported, found);
}

}  // namespace moe::io::tok
