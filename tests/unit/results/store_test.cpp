// Store: atomic unit commits, reading back, checksums and quarantine, strings with NULs, failure
// markers, debris of killed processes; UnitResult combine rules.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "results/store.h"
#include "runtime/core/error.h"

namespace moe::results {
namespace {
namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("moe_store_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  return d;
}

UnitResult sample_result(int64_t begin, int64_t n) {
  UnitResult r;
  Table& t = r.tables["samples"];
  auto& s = t.col<int64_t>("sample");
  auto& p = t.col<std::string>("prediction");
  auto& sc = t.col<double>("score");
  for (int64_t i = begin; i < begin + n; ++i) {
    s.push_back(i);
    p.push_back("p" + std::to_string(i));
    sc.push_back(0.5 * double(i));
  }
  r.arrays["counts"] = {{2, 2}, std::vector<int64_t>{1, 2, 3, int64_t(begin)}, Combine::kSum};
  r.arrays["per_seq"] = {{uint64_t(n), 2}, std::vector<float>(size_t(2 * n), float(begin)),
                         Combine::kConcat};
  r.notes["family"] = "test";
  return r;
}

TEST(Store, CommitIsAtomicAndReadsBackEverything) {
  const fs::path d = fresh_dir("commit");
  Store st(d);
  EXPECT_FALSE(st.done("e.u1"));
  UnitMeta m;
  m.unit = "e.u1";
  m.kind = "eval";
  m.labels = {{"language", "de"}, {"point", "abc"}};
  m.runner = "unit-test";
  st.commit(m, sample_result(10, 3), "owner-1");
  EXPECT_TRUE(st.done("e.u1"));
  EXPECT_EQ(st.done_units(), std::set<std::string>{"e.u1"});
  EXPECT_TRUE(fs::is_empty(d / "tmp"));  // nothing left behind
  UnitMeta back;
  UnitResult r = st.read("e.u1", &back);
  EXPECT_EQ(back.unit, "e.u1");
  EXPECT_EQ(back.kind, "eval");
  EXPECT_EQ(back.runner, "unit-test");
  EXPECT_EQ(back.owner, "owner-1");
  EXPECT_EQ(back.labels.at("language"), "de");
  const Table& t = r.tables.at("samples");
  EXPECT_EQ(t.get<int64_t>("sample"), (std::vector<int64_t>{10, 11, 12}));
  EXPECT_EQ(t.get<std::string>("prediction")[2], "p12");
  EXPECT_EQ(t.get<double>("score")[1], 5.5);
  EXPECT_EQ(r.arrays.at("counts").combine, Combine::kSum);
  EXPECT_EQ(r.arrays.at("per_seq").shape, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(r.notes.at("family"), "test");
  fs::remove_all(d);
}

TEST(Store, CombineAppendsTablesConcatenatesAndSumsArrays) {
  UnitResult c = combine_results({sample_result(0, 2), sample_result(2, 3)}, "test");
  EXPECT_EQ(c.tables.at("samples").get<int64_t>("sample"), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(std::get<std::vector<int64_t>>(c.arrays.at("counts").values),
            (std::vector<int64_t>{2, 4, 6, 2}));  // 1+1, 2+2, 3+3, 0+2
  EXPECT_EQ(c.arrays.at("per_seq").shape, (std::vector<uint64_t>{5, 2}));
  const auto& ps = std::get<std::vector<float>>(c.arrays.at("per_seq").values);
  EXPECT_EQ(ps.front(), 0.f);
  EXPECT_EQ(ps.back(), 2.f);
}

TEST(Store, CombineRefusesMismatchedShapes) {
  UnitResult a = sample_result(0, 2), b = sample_result(2, 2);
  b.arrays["counts"].shape = {4, 1};
  EXPECT_THROW(combine_results({a, b}, "test"), InputError);
}

TEST(Store, ResultsRoundTripThroughBytes) {
  UnitResult a = sample_result(0, 2), b = sample_result(5, 1);
  b.notes["empty"] = "";
  const std::vector<UnitResult> back = from_bytes(to_bytes({a, b}), "rank 1's results");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].tables.at("samples").get<std::string>("prediction"),
            (std::vector<std::string>{"p0", "p1"}));
  EXPECT_EQ(back[1].tables.at("samples").get<double>("score"), (std::vector<double>{2.5}));
  EXPECT_EQ(std::get<std::vector<int64_t>>(back[1].arrays.at("counts").values),
            (std::vector<int64_t>{1, 2, 3, 5}));
  EXPECT_EQ(back[1].arrays.at("counts").combine, Combine::kSum);
  EXPECT_EQ(back[0].arrays.at("per_seq").shape, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(back[1].notes, b.notes);
  EXPECT_TRUE(from_bytes(to_bytes({}), "none").empty());
}

TEST(Store, BytesThatAreNoResultsAreAnInputErrorNamingTheSource) {
  try {
    from_bytes("not an hdf5 image", "rank 3's results");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 3's results"), std::string::npos) << e.what();
  }
}

TEST(Store, StringsWithNulSurviveTheRoundTrip) {
  const fs::path d = fresh_dir("nul");
  Store st(d);
  UnitMeta m;
  m.unit = "e.nul";
  m.kind = "eval";
  UnitResult r = sample_result(0, 3);
  const std::string with_nul("Hallo\0Welt und mehr.", 21);
  r.tables["samples"].col<std::string>("prediction")[1] = with_nul;
  r.tables["samples"].col<std::string>("prediction")[2] = std::string("\0", 1);
  st.commit(m, r, "owner");
  const auto back = st.read("e.nul").tables.at("samples").get<std::string>("prediction");
  EXPECT_EQ(back[0], "p0");
  EXPECT_EQ(back[1], with_nul);
  EXPECT_EQ(back[1].size(), 21u);
  EXPECT_EQ(back[2], std::string("\0", 1));
  fs::remove_all(d);
}

// Damage of each kind is found from the checksum header before HDF5 parses the file: the header
// check (a run's start) finds all but bytes changed inside, which the full check and read()
// find; quarantine_damaged() and read() move exactly the damaged files out of units/.
TEST(Store, DamagedUnitFilesAreFoundNamedAndQuarantined) {
  const fs::path d = fresh_dir("damage");
  Store st(d);
  for (const char* u : {"e.ok", "e.truncated", "e.garbage", "e.flipped", "e.appended"}) {
    UnitMeta m;
    m.unit = u;
    m.kind = "eval";
    st.commit(m, sample_result(0, 50), "owner");
  }
  auto size = [&](const char* u) { return fs::file_size(st.unit_path(u)); };
  fs::resize_file(st.unit_path("e.truncated"), size("e.truncated") / 2);
  {
    std::fstream f(st.unit_path("e.garbage"), std::ios::in | std::ios::out | std::ios::binary);
    f << "garbage";
  }
  {
    std::fstream f(st.unit_path("e.flipped"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(std::streamoff(size("e.flipped") / 2));
    f.put('\x5a').put('\xa5');
  }
  std::ofstream(st.unit_path("e.appended"), std::ios::app | std::ios::binary) << "tail";
  EXPECT_EQ(st.damage("e.ok"), "");
  EXPECT_NE(st.damage("e.truncated").find("truncated"), std::string::npos);
  EXPECT_NE(st.damage("e.garbage").find("no moe-sweep checksum header"), std::string::npos);
  EXPECT_NE(st.damage("e.flipped").find("do not match"), std::string::npos);
  EXPECT_NE(st.damage("e.appended").find("extended"), std::string::npos);
  using Check = Store::Check;
  EXPECT_EQ(st.damage("e.flipped", Check::kHeader), "");
  EXPECT_NE(st.damage("e.truncated", Check::kHeader).find("truncated"), std::string::npos);
  EXPECT_NE(st.damage("e.garbage", Check::kHeader).find("no moe-sweep checksum header"),
            std::string::npos);
  EXPECT_NE(st.damage("e.appended", Check::kHeader).find("extended"), std::string::npos);
  const auto moved = st.quarantine_damaged(
      {"e.ok", "e.truncated", "e.garbage", "e.flipped", "e.appended", "e.absent"},
      Check::kHeader);
  EXPECT_EQ(moved.size(), 3u);
  try {
    st.read("e.flipped");
    ADD_FAILURE() << "read() accepted a damaged file";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), st.unit_path("e.flipped").string());
    EXPECT_NE(e.problem().find("damaged unit file"), std::string::npos);
  }
  EXPECT_TRUE(st.quarantine_damaged({"e.ok", "e.flipped"}).empty());  // read() moved it
  EXPECT_EQ(st.done_units(), std::set<std::string>{"e.ok"});
  int files = 0;
  for (const auto& e : fs::directory_iterator(d / "quarantine"))
    files += e.path().extension() == ".h5";
  EXPECT_EQ(files, 4);
  EXPECT_NO_THROW(st.read("e.ok"));
  fs::remove_all(d);
}

TEST(Store, FailureMarkersAndTmpDebris) {
  const fs::path d = fresh_dir("failed");
  Store st(d);
  st.mark_failed("g.1", "bad row 7\nsecond line", "host:1");
  auto f = st.failed();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f["g.1"].error, "bad row 7\nsecond line");
  EXPECT_EQ(f["g.1"].owner, "host:1");
  st.clear_all_failed();
  EXPECT_TRUE(st.failed().empty());
  // A writer killed mid-write leaves debris only under tmp/: never counted as done.
  std::ofstream(d / "tmp" / "e.u9.host.1.h5") << "half";
  EXPECT_TRUE(st.done_units().empty());
  EXPECT_EQ(st.clean_tmp(3600), 0);
  EXPECT_EQ(st.clean_tmp(-1), 1);
  // Temporary files of atomic writes and the merge temporaries of processes that are gone.
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const pid_t gone = [] {
    const pid_t p = ::fork();
    if (p == 0) ::_exit(0);
    int status = 0;
    ::waitpid(p, &status, 0);
    return p;
  }();
  std::ofstream(d / "failed" / "g.1.txt.tmp.h.1.abc") << "";
  std::ofstream(d / fmt::format("results.h5.tmp.{}.{}", host, gone)) << "half";
  std::ofstream(d / fmt::format("results.h5.tmp.{}.{}", host, ::getpid())) << "live";
  EXPECT_EQ(st.clean_tmp(3600), 1);  // the dead merge's only: the other is young
  EXPECT_EQ(st.clean_tmp(-1), 1);    // the atomic write's temporary
  EXPECT_TRUE(fs::exists(d / fmt::format("results.h5.tmp.{}.{}", host, ::getpid())));
  fs::remove_all(d);
}

}  // namespace
}  // namespace moe::results
