// identify_inputs: fingerprints of a sweep's checkpoints and data files, and its numerics.
#include "sweeps/plan/inputs.h"

#include <fnmatch.h>
#include <xxhash.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "runtime/core/cpu_isa.h"
#include "runtime/core/error.h"
#include "runtime/core/version.h"

namespace moe::sweeps {
namespace fs = std::filesystem;
using nlohmann::json;

std::string InputIdentity::file(const std::string& key) const {
  auto it = files.find(key);
  return it == files.end() ? "" : it->second;
}

std::string InputIdentity::numeric(const std::string& model_key) const {
  auto it = numerics.find(model_key);
  return it == numerics.end() ? "" : it->second;
}

std::string InputIdentity::to_json() const {
  return json{{"files", files}, {"numerics", numerics}, {"numerics_version", numerics_version}}
      .dump(2);
}

InputIdentity InputIdentity::from_json(const std::string& text, const std::string& where) {
  try {
    const json j = json::parse(text);
    InputIdentity id;
    id.files = j.at("files").get<std::map<std::string, std::string>>();
    id.numerics = j.at("numerics").get<std::map<std::string, std::string>>();
    id.numerics_version = j.at("numerics_version").get<std::string>();
    return id;
  } catch (const json::exception& e) {
    throw InputError(where, fmt::format("expected the JSON of a sweep's inputs (files, numerics, "
                                        "numerics_version), found a document that is not: {}",
                                        e.what()));
  }
}

namespace {

// XXH3-128 over a sequence of named byte streams.
class Digest {
 public:
  Digest() : state_(XXH3_createState(), XXH3_freeState) {
    if (!state_) throw std::bad_alloc();
    XXH3_128bits_reset(state_.get());
  }
  void add(const void* data, size_t n) { XXH3_128bits_update(state_.get(), data, n); }
  void add(const std::string& s) {
    const uint64_t n = s.size();
    add(&n, sizeof(n));
    add(s.data(), s.size());
  }
  void add_u64(uint64_t v) { add(&v, sizeof(v)); }
  std::string hex() const {
    const XXH128_hash_t h = XXH3_128bits_digest(state_.get());
    return fmt::format("{:016x}{:016x}", h.high64, h.low64);
  }

 private:
  std::unique_ptr<XXH3_state_t, XXH_errorcode (*)(XXH3_state_t*)> state_;
};

// Adds `n` bytes of `in` (or all of it when n is -1) to `d`; false on a read error.
bool add_stream(Digest& d, std::ifstream& in, int64_t n = -1) {
  std::vector<char> buf(1 << 20);
  while (n != 0 && in) {
    const size_t want = n < 0 ? buf.size() : size_t(std::min<int64_t>(n, int64_t(buf.size())));
    in.read(buf.data(), std::streamsize(want));
    const auto got = in.gcount();
    d.add(buf.data(), size_t(got));
    if (n > 0) n -= got;
    if (size_t(got) < want) break;
  }
  return n <= 0 && !in.bad();
}

void add_file(Digest& d, const fs::path& file, const std::string& name, const std::string& where) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw InputError(where, fmt::format("expected a readable file, found '{}' unreadable: {}",
                                        file.string(), std::strerror(errno)));
  d.add(name);
  d.add_u64(fs::file_size(file));
  if (!add_stream(d, in)) throw InputError(where, fmt::format("cannot read '{}'", file.string()));
}

// Weight bytes sampled per shard: kWeightSamples blocks of kWeightSampleBytes, evenly spaced.
constexpr int kWeightSamples = 16;
constexpr int64_t kWeightSampleBytes = 64 << 10;

// A safetensors shard: its size and header (8-byte little-endian length, then the JSON header),
// which name every tensor with dtype, shape and offsets, and evenly spaced samples of the weight
// bytes, so that weights replaced by others of the same shapes change the fingerprint too. Reading
// every weight byte would take minutes per run on checkpoints of tens of GB.
void add_shard(Digest& d, const fs::path& file, const std::string& where) {
  std::ifstream in(file, std::ios::binary);
  const uint64_t size = fs::file_size(file);
  uint64_t n = 0;
  if (!in || !in.read(reinterpret_cast<char*>(&n), 8) || n > size - 8)
    throw InputError(fmt::format("{}: {} at offset 0", where, file.string()),
                     fmt::format("expected a safetensors header length (8 bytes, at most the "
                                 "file's {} bytes), found {}",
                                 size, in ? std::to_string(n) : std::string("a shorter file")));
  d.add(file.filename().string());
  d.add_u64(size);
  d.add_u64(n);
  if (!add_stream(d, in, int64_t(n)))
    throw InputError(fmt::format("{}: {} at offset 8", where, file.string()),
                     fmt::format("expected a {}-byte header, found an unreadable file", n));
  const int64_t data = int64_t(8 + n), span = int64_t(size) - data;
  for (int k = 0; k < kWeightSamples && span > 0; ++k) {
    const int64_t at = data + span * k / kWeightSamples;
    in.clear();
    in.seekg(at);
    if (!add_stream(d, in, std::min(kWeightSampleBytes, int64_t(size) - at)))
      throw InputError(fmt::format("{}: {} at offset {}", where, file.string(), at),
                       "expected weight bytes, found an unreadable file");
  }
}

std::string checkpoint_fingerprint(const fs::path& dir, const std::string& where) {
  if (!fs::is_directory(dir))
    throw InputError(where, fmt::format("expected a checkpoint directory, found {} '{}'",
                                        fs::exists(dir) ? "a file" : "no such path", dir.string()));
  if (!fs::is_regular_file(dir / "config.json"))
    throw InputError(where, fmt::format("expected a checkpoint directory with config.json, "
                                        "found none in '{}'",
                                        dir.string()));
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  Digest d;
  for (const auto& f : files) {
    if (f.extension() == ".safetensors")
      add_shard(d, f, where);
    else
      add_file(d, f, f.filename().string(), where);
  }
  return d.hex();
}

bool is_template(const std::string& component) {
  return component.find('{') != std::string::npos;
}

// The files a data path names: the file; every file under a directory; for a template, every
// file matching it with each {placeholder} read as '*'.
std::vector<std::pair<fs::path, std::string>> data_files(const fs::path& path) {
  std::vector<std::pair<fs::path, std::string>> out;  // (file, name relative to the root)
  fs::path root;
  std::vector<std::string> pattern;  // components from the first template on
  for (const auto& part : path) {
    if (pattern.empty() && !is_template(part.string()))
      root /= part;
    else
      pattern.push_back(part.string());
  }
  if (pattern.empty()) {
    if (fs::is_regular_file(path)) return {{path, path.filename().string()}};
    if (fs::is_directory(path))
      for (const auto& e : fs::recursive_directory_iterator(path))
        if (e.is_regular_file()) out.emplace_back(e.path(), fs::relative(e.path(), path).string());
  } else if (fs::is_directory(root)) {
    for (auto& p : pattern) {
      std::string glob;
      for (size_t i = 0; i < p.size(); ++i) {
        if (p[i] != '{') {
          glob += p[i];
          continue;
        }
        const size_t close = p.find('}', i);
        glob += '*';
        i = close == std::string::npos ? p.size() : close;
      }
      p = glob;
    }
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
      const std::vector<fs::path> rel_parts = [&] {
        std::vector<fs::path> v;
        for (const auto& q : fs::relative(it->path(), root)) v.push_back(q);
        return v;
      }();
      const size_t depth = rel_parts.size();
      bool match = depth <= pattern.size();
      for (size_t k = 0; match && k < depth; ++k)
        match = ::fnmatch(pattern[k].c_str(), rel_parts[k].c_str(), 0) == 0;
      if (!match) {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (depth == pattern.size() && it->is_regular_file())
        out.emplace_back(it->path(), fs::relative(it->path(), root).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string data_fingerprint(const fs::path& path, const std::string& where) {
  const auto files = data_files(path);
  if (files.empty())
    throw InputError(where, fmt::format("expected an existing data file or directory{}, found {}",
                                        path.string().find('{') != std::string::npos
                                            ? " (or files matching the template)"
                                            : "",
                                        fs::exists(path) ? "no file in '" + path.string() + "'"
                                                         : "no such path '" + path.string() + "'"));
  Digest d;
  for (const auto& [file, name] : files) add_file(d, file, name, where);
  return d.hex();
}

std::string numeric_class(const std::string& backend) {
  if (backend == "cpu") return fmt::format("cpu@{}", cpu::isa_name(cpu::active_isa()));
  return backend;  // cpu-ref: the same portable code on every CPU; cuda
}

}  // namespace

InputIdentity identify_inputs(const SweepConfig& c) {
  InputIdentity id;
  const std::string file = c.source.string();
  for (const auto& m : c.models) {
    const std::string key = "models." + m.name;
    id.files[key] = checkpoint_fingerprint(m.path, fmt::format("{}: {}.path", file, key));
    id.numerics[key] = numeric_class(m.backend);
  }
  for (const auto& cp : c.corpora) {
    const std::string key = "corpora." + cp.name;
    id.files[key] = data_fingerprint(cp.path, fmt::format("{}: {}.path", file, key));
  }
  for (const auto& t : c.tasks) {
    const std::string key = "tasks." + t.name;
    id.files[key] = data_fingerprint(t.path, fmt::format("{}: {}.path", file, key));
    const json o = json::parse(t.options_json);
    if (o.contains("exemplars") && o["exemplars"].is_string())
      id.files[key + ".exemplars"] = data_fingerprint(o["exemplars"].get<std::string>(),
                                                      fmt::format("{}: {}.exemplars", file, key));
  }
  id.numerics_version = numerics_version();
  return id;
}

std::vector<std::string> changed_inputs(const InputIdentity& stored, const InputIdentity& now) {
  std::vector<std::string> out;
  for (const auto& [key, fp] : stored.files) {
    const std::string n = now.file(key);
    if (!n.empty() && n != fp)
      out.push_back(fmt::format("{}: content changed (fingerprint {} -> {})", key, fp, n));
  }
  for (const auto& [key, cls] : stored.numerics) {
    const std::string n = now.numeric(key);
    if (!n.empty() && n != cls)
      out.push_back(fmt::format("{}: backend numerics changed ({} -> {})", key, cls, n));
  }
  if (!stored.numerics_version.empty() && !now.numerics_version.empty() &&
      stored.numerics_version != now.numerics_version)
    out.push_back(fmt::format("numerics version of the code changed ({} -> {})",
                              stored.numerics_version, now.numerics_version));
  return out;
}

}  // namespace moe::sweeps
