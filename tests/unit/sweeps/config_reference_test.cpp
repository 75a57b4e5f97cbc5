// sweeps/CONFIG.md documents every key of every section of a sweep config: its sections (the
// "### `section`" headings) and the keys of each section's table (first column) must be
// exactly the parser's (config_sections(), the lists every mapping is checked against). A key
// added to the parser without its line in the reference, or documented but refused, fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "sweeps/config/config.h"

namespace moe::sweeps {
namespace {

// section -> keys, from CONFIG.md's "### `section`" headings and "| `key` |" rows.
std::map<std::string, std::set<std::string>> documented_keys(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::map<std::string, std::set<std::string>> out;
  const std::regex heading(R"(^### `([^`]+)`\s*$)"), row(R"(^\| `([^`]+)` \|)");
  std::string line, section;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, heading)) {
      section = m[1];
      EXPECT_TRUE(out.emplace(section, std::set<std::string>{}).second)
          << "section '" << section << "' twice";
    } else if (line.rfind("## ", 0) == 0) {
      section.clear();
    } else if (!section.empty() && std::regex_search(line, m, row)) {
      EXPECT_TRUE(out[section].insert(m[1]).second)
          << "key '" << m[1] << "' twice in '" << section << "'";
    }
  }
  return out;
}

TEST(ConfigReference, DocumentsExactlyTheKeysTheParserAccepts) {
  const auto doc = documented_keys(MOE_SOURCE_DIR "/sweeps/CONFIG.md");
  std::set<std::string> sections;
  for (const ConfigSection& s : config_sections()) {
    sections.insert(s.path);
    SCOPED_TRACE("section " + s.path);
    const auto it = doc.find(s.path);
    ASSERT_NE(it, doc.end()) << "CONFIG.md has no '### `" << s.path << "`' section";
    const std::set<std::string> parser(s.keys.begin(), s.keys.end());
    for (const std::string& k : parser)
      EXPECT_TRUE(it->second.count(k)) << "key '" << k << "' is not documented";
    for (const std::string& k : it->second)
      EXPECT_TRUE(parser.count(k)) << "documented key '" << k << "' is refused by the parser";
  }
  for (const auto& [section, keys] : doc)
    EXPECT_TRUE(sections.count(section)) << "CONFIG.md documents an unknown section " << section;
}

}  // namespace
}  // namespace moe::sweeps
