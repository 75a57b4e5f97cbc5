#include "results/unit_result.h"

#include <fmt/format.h>

#include "results/h5.h"
#include "runtime/core/error.h"

namespace moe::results {

size_t Column::size() const {
  return std::visit([](const auto& v) { return v.size(); }, values);
}

const Column* Table::find(const std::string& name) const {
  for (const auto& c : columns)
    if (c.name == name) return &c;
  return nullptr;
}

template <typename T>
const std::vector<T>& Table::get(const std::string& name) const {
  const Column* c = find(name);
  MOE_ASSERT(c, "table has no column '{}'", name);
  const auto* v = std::get_if<std::vector<T>>(&c->values);
  MOE_ASSERT(v, "column '{}' has another type", name);
  return *v;
}

template <typename T>
std::vector<T>& Table::col(const std::string& name) {
  for (auto& c : columns)
    if (c.name == name) {
      auto* v = std::get_if<std::vector<T>>(&c.values);
      MOE_ASSERT(v, "column '{}' has another type", name);
      return *v;
    }
  columns.push_back({name, std::vector<T>{}});
  return std::get<std::vector<T>>(columns.back().values);
}

template const std::vector<int64_t>& Table::get(const std::string&) const;
template const std::vector<double>& Table::get(const std::string&) const;
template const std::vector<std::string>& Table::get(const std::string&) const;
template std::vector<int64_t>& Table::col(const std::string&);
template std::vector<double>& Table::col(const std::string&);
template std::vector<std::string>& Table::col(const std::string&);

void Table::append(const Table& other) {
  if (columns.empty()) {
    *this = other;
    return;
  }
  if (other.columns.size() != columns.size())
    throw InputError("table append", fmt::format("expected {} columns, found {}", columns.size(),
                                                 other.columns.size()));
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].name != other.columns[i].name ||
        columns[i].values.index() != other.columns[i].values.index())
      throw InputError("table append",
                       fmt::format("expected column '{}' at position {}, found '{}' (or another "
                                   "type)",
                                   columns[i].name, i, other.columns[i].name));
    std::visit(
        [&](auto& dst) {
          using V = std::decay_t<decltype(dst)>;
          const V& src = std::get<V>(other.columns[i].values);
          dst.insert(dst.end(), src.begin(), src.end());
        },
        columns[i].values);
  }
}

Table Table::select(const std::vector<size_t>& order) const {
  Table out;
  for (const auto& c : columns) {
    Column n{c.name, {}};
    std::visit(
        [&](const auto& src) {
          std::decay_t<decltype(src)> dst;
          dst.reserve(order.size());
          for (size_t i : order) dst.push_back(src[i]);
          n.values = std::move(dst);
        },
        c.values);
    out.columns.push_back(std::move(n));
  }
  return out;
}

void Table::check(const std::string& what) const {
  for (const auto& c : columns)
    MOE_ASSERT(c.size() == rows(), "{}: column '{}' has {} values, expected {}", what, c.name,
               c.size(), rows());
}

void Table::write(const h5::Group& parent, const std::string& name) const {
  check(parent.path() + "/" + name);
  h5::Group g = parent.group(name);
  std::vector<std::string> names;
  for (const auto& c : columns) {
    names.push_back(c.name);
    std::visit(
        [&](const auto& v) {
          using T = typename std::decay_t<decltype(v)>::value_type;
          if constexpr (std::is_same_v<T, std::string>)
            g.write_strings(c.name, v);
          else
            g.write<T>(c.name, v, {}, true);
        },
        c.values);
  }
  g.set_attr("columns", names);
}

Table Table::read(const h5::Group& parent, const std::string& name) {
  h5::Group g = parent.open_group(name);
  Table t;
  for (const auto& c : g.attr_strings("columns")) {
    size_t bytes = 0;
    switch (g.dataset_class(c, &bytes)) {
      case 'i':
      case 'u': t.columns.push_back({c, g.read<int64_t>(c)}); break;
      case 'f': t.columns.push_back({c, g.read<double>(c)}); break;
      case 's': t.columns.push_back({c, g.read_strings(c)}); break;
      default:
        throw InputError(g.path() + "/" + c, "expected an integer, float or string column");
    }
  }
  t.check(g.path());
  return t;
}

size_t Array::size() const {
  return std::visit([](const auto& v) { return v.size(); }, values);
}

void Array::merge(const Array& other, const std::string& what) {
  if (values.index() != other.values.index() || combine != other.combine ||
      shape.size() != other.shape.size())
    throw InputError(what, "expected arrays of the same type, rank and combine rule");
  for (size_t d = combine == Combine::kConcat ? 1 : 0; d < shape.size(); ++d)
    if (shape[d] != other.shape[d])
      throw InputError(what, fmt::format("expected dimension {} of size {}, found {}", d,
                                         shape[d], other.shape[d]));
  std::visit(
      [&](auto& dst) {
        using V = std::decay_t<decltype(dst)>;
        const V& src = std::get<V>(other.values);
        switch (combine) {
          case Combine::kConcat: dst.insert(dst.end(), src.begin(), src.end()); break;
          case Combine::kSum:
            for (size_t i = 0; i < dst.size(); ++i) dst[i] += src[i];
            break;
          case Combine::kSame:
            if (dst != src) throw InputError(what, "expected equal values in every sample range");
            break;
        }
      },
      values);
  if (combine == Combine::kConcat && !shape.empty()) shape[0] += other.shape[0];
}

void Array::write(const h5::Group& parent, const std::string& name) const {
  std::visit([&](const auto& v) { parent.write(name, v, shape, true); }, values);
  // The combine rule lives on the dataset; h5 sets attributes on groups, so record it beside.
  parent.set_attr(name + ".combine", std::string(combine == Combine::kSum    ? "sum"
                                                 : combine == Combine::kSame ? "same"
                                                                             : "concat"));
}

Array Array::read(const h5::Group& parent, const std::string& name) {
  Array a;
  size_t bytes = 0;
  const char cls = parent.dataset_class(name, &bytes);
  if (cls == 'f' && bytes == 4) a.values = parent.read<float>(name, &a.shape);
  else if (cls == 'f') a.values = parent.read<double>(name, &a.shape);
  else if (cls == 'u' && bytes == 2) a.values = parent.read<uint16_t>(name, &a.shape);
  else if (cls == 'i' || cls == 'u') a.values = parent.read<int64_t>(name, &a.shape);
  else throw InputError(parent.path() + "/" + name, "expected a numeric array");
  const std::string rule = parent.has_attr(name + ".combine")
                               ? parent.attr_string(name + ".combine") : "concat";
  a.combine = rule == "sum" ? Combine::kSum : rule == "same" ? Combine::kSame : Combine::kConcat;
  return a;
}

void UnitResult::write(const h5::Group& g) const {
  h5::Group t = g.group("tables");
  for (const auto& [name, table] : tables) table.write(t, name);
  h5::Group a = g.group("arrays");
  for (const auto& [name, arr] : arrays) arr.write(a, name);
  h5::Group n = g.group("notes");
  for (const auto& [k, v] : notes) n.set_attr(k, v);
  std::vector<std::string> keys;
  for (const auto& [k, v] : notes) keys.push_back(k);
  n.set_attr("keys", keys);
}

UnitResult UnitResult::read(const h5::Group& g) {
  UnitResult r;
  if (g.has("tables")) {
    h5::Group t = g.open_group("tables");
    for (const auto& name : t.children()) r.tables[name] = Table::read(t, name);
  }
  if (g.has("arrays")) {
    h5::Group a = g.open_group("arrays");
    for (const auto& name : a.children()) r.arrays[name] = Array::read(a, name);
  }
  if (g.has("notes")) {
    h5::Group n = g.open_group("notes");
    if (n.has_attr("keys"))
      for (const auto& k : n.attr_strings("keys")) r.notes[k] = n.attr_string(k);
  }
  return r;
}

UnitResult combine_results(const std::vector<UnitResult>& parts, const std::string& what) {
  UnitResult out;
  for (const auto& p : parts) {
    for (const auto& [name, t] : p.tables) out.tables[name].append(t);
    for (const auto& [name, a] : p.arrays) {
      auto it = out.arrays.find(name);
      if (it == out.arrays.end()) out.arrays[name] = a;
      else it->second.merge(a, what + ": array " + name);
    }
    for (const auto& [k, v] : p.notes) out.notes[k] = v;
  }
  return out;
}

std::string to_bytes(const std::vector<UnitResult>& results) {
  h5::File f = h5::File::create_in_memory("unit-results");
  const h5::Group root = f.root();
  root.set_attr("count", int64_t(results.size()));
  for (size_t i = 0; i < results.size(); ++i) results[i].write(root.group(std::to_string(i)));
  return f.image();
}

std::vector<UnitResult> from_bytes(const std::string& bytes, const std::string& what) {
  const h5::File f = h5::File::open_image(bytes, what);
  const h5::Group root = f.root();
  if (!root.has_attr("count"))
    throw InputError(what, "expected unit results (attribute 'count'), found none");
  const int64_t n = root.attr_int("count");
  std::vector<UnitResult> out;
  for (int64_t i = 0; i < n; ++i)
    out.push_back(UnitResult::read(root.open_group(std::to_string(i))));
  return out;
}

}  // namespace moe::results
