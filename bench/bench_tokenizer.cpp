// bench_tokenizer: encode throughput of the C++ tokenizer on the made tokenizers of the four
// families, next to the Hugging Face tokenizers library (Rust, via python3) encoding the same
// lines with the same tokenizer.json in the same run (encode_batch with RAYON_NUM_THREADS=1, so
// one thread and one Python call). The text is the built-in multilingual corpus repeated to about
// 1 MiB, encoded line by line (as prompts are); the token counts of both must agree.
// The reference is skipped, with a note, when python3 cannot import tokenizers.
// Usage: bench_tokenizer [MiB]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer/builtin_corpus.h"
#include "runtime/io/tokenizer_maker.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::vector<std::string> make_lines(size_t bytes) {
  std::vector<std::string> lines;
  const std::string_view corpus = moe::io::tok::builtin_corpus();
  size_t total = 0;
  for (int round = 0; total < bytes; ++round) {
    size_t pos = 0;
    while (pos < corpus.size() && total < bytes) {
      size_t end = corpus.find('\n', pos);
      end = end == std::string_view::npos ? corpus.size() : end + 1;
      // A round number keeps repeated lines distinct, so the piece cache does not see only repeats.
      lines.push_back(std::to_string(round) + " " + std::string(corpus.substr(pos, end - pos)));
      total += lines.back().size();
      pos = end;
    }
  }
  return lines;
}

// Runs the library on the same file and lines; returns seconds, or a negative value if absent.
double reference_seconds(const fs::path& json, const fs::path& lines_file, size_t& tokens) {
  const fs::path out = fs::temp_directory_path() / "moe_bench_tokenizer_ref.txt";
  const std::string cmd =
      "RAYON_NUM_THREADS=1 python3 -c \"import json,sys,time\n"
      "from tokenizers import Tokenizer\n"
      "t=Tokenizer.from_file(sys.argv[1])\n"
      "lines=[json.loads(l) for l in open(sys.argv[2],encoding='utf-8')]\n"
      "t0=time.perf_counter()\n"
      "n=sum(len(e.ids) for e in t.encode_batch(lines,add_special_tokens=False))\n"
      "print(time.perf_counter()-t0, n)\" '" +
      json.string() + "' '" + lines_file.string() + "' > '" + out.string() + "' 2>/dev/null";
  if (std::system(cmd.c_str()) != 0) return -1;
  std::ifstream in(out);
  double secs = -1;
  in >> secs >> tokens;
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  const double mib = argc > 1 ? std::atof(argv[1]) : 1.0;
  const auto lines = make_lines(static_cast<size_t>(mib * 1024 * 1024));
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size();

  const fs::path dir = fs::temp_directory_path() / "moe_bench_tokenizer";
  fs::create_directories(dir);
  const fs::path lines_file = dir / "lines.jsonl";
  {
    std::ofstream f(lines_file, std::ios::binary);
    for (const auto& l : lines) {
      f << '"';
      for (unsigned char c : l) {
        if (c == '"' || c == '\\')
          f << '\\' << c;
        else if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          f << buf;
        } else
          f << c;
      }
      f << "\"\n";
    }
  }

  std::printf("bench_tokenizer: %zu lines, %.2f MiB, one thread\n", lines.size(),
              bytes / 1048576.0);
  std::printf("%-10s %12s %12s %12s %12s %10s\n", "family", "C++ MB/s", "C++ tok/s", "HF MB/s",
              "HF tok/s", "C++/HF");
  const std::pair<moe::io::Family, const char*> families[] = {
      {moe::io::Family::kQwen3Moe, "qwen3_moe"},
      {moe::io::Family::kOlmoe, "olmoe"},
      {moe::io::Family::kGptOss, "gpt_oss"},
      {moe::io::Family::kPhimoe, "phimoe"}};
  for (const auto& [family, name] : families) {
    const moe::io::MadeTokenizer made = moe::io::make_tokenizer(family, 4096);
    const fs::path json = dir / (std::string(name) + ".json");
    std::ofstream(json, std::ios::binary) << made.tokenizer_json;
    const auto tok = moe::io::Tokenizer::load(json);

    size_t tokens = 0;
    const auto t0 = Clock::now();
    for (const auto& l : lines) tokens += tok.encode(l).size();
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

    size_t ref_tokens = 0;
    const double ref = reference_seconds(json, lines_file, ref_tokens);
    if (ref > 0) {
      std::printf("%-10s %12.2f %12.0f %12.2f %12.0f %9.2fx%s\n", name, bytes / secs / 1e6,
                  tokens / secs, bytes / ref / 1e6, ref_tokens / ref, ref / secs,
                  ref_tokens == tokens ? "" : "  (token counts differ!)");
    } else {
      std::printf("%-10s %12.2f %12.0f %12s %12s %10s\n", name, bytes / secs / 1e6, tokens / secs,
                  "-", "-", "-");
    }
  }
  std::printf(
      "HF: the tokenizers library, encode_batch on one thread (it also computes offsets "
      "and attention masks); '-' when python3 cannot import tokenizers\n");
  return 0;
}
