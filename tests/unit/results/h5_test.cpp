// h5 wrapper: round trips of arrays, strings, attributes, nested groups; errors on bad files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "results/h5.h"
#include "runtime/core/error.h"

namespace moe::h5 {
namespace fs = std::filesystem;

TEST(H5, RoundTripsArraysStringsAndAttributes) {
  fs::path p = fs::temp_directory_path() / "moe_h5_roundtrip.h5";
  {
    File f = File::create(p);
    Group g = f.root().group("a/b");
    g.write<float>("x", {1, 2, 3, 4, 5, 6}, {2, 3});
    g.write_strings("names", {"en", "zh", "ünï"});
    g.set_attr("k", int64_t(7));
    g.set_attr("s", std::string("hello"));
    g.set_attr("cols", std::vector<std::string>{"a", "b"});
  }
  File f = File::open(p);
  Group g = f.root().open_group("a/b");
  std::vector<uint64_t> shape;
  EXPECT_EQ(g.read<float>("x", &shape), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(g.read_strings("names"), (std::vector<std::string>{"en", "zh", "ünï"}));
  EXPECT_EQ(g.attr_int("k"), 7);
  EXPECT_EQ(g.attr_string("s"), "hello");
  EXPECT_EQ(g.attr_strings("cols"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(f.root().has("a/b/x"));
  EXPECT_FALSE(f.root().has("a/c/x"));
  EXPECT_EQ(f.root().open_group("a").children(), (std::vector<std::string>{"b"}));
  fs::remove(p);
}

TEST(H5, NotAnHdf5FileIsAnInputErrorNamingTheFile) {
  fs::path p = fs::temp_directory_path() / "moe_h5_garbage.h5";
  std::ofstream(p) << "not hdf5";
  try {
    File::open(p);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("moe_h5_garbage.h5"), std::string::npos);
  }
  fs::remove(p);
}

}  // namespace moe::h5
