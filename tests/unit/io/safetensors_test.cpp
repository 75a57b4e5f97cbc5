// safetensors reader/writer: round trips for every dtype, 0-d/empty/sub-byte tensors, sharded
// checkpoints, a file written by the reference implementation, and every validation error.
#include "runtime/io/safetensors.h"

#include <cstring>
#include <random>

#include "runtime/io/files.h"
#include "tests/unit/io/io_test_util.h"

namespace moe::io {
namespace {

using testing::expect_input_error;
using testing::safetensors_bytes;
using testing::TempDir;
using testing::write_bytes;

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

std::vector<uint8_t> tensor_bytes(const Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.raw());
  return std::vector<uint8_t>(p, p + t.nbytes());
}

TEST(SafetensorsRoundTrip, EveryDtypeKeepsNameShapeAndBytes) {
  TempDir dir;
  SafetensorsWriter w;
  std::vector<std::tuple<std::string, DType, Shape, std::vector<uint8_t>>> expected;
  for (int i = 0; i <= int(DType::F6_E3M2); ++i) {
    const DType t = DType(i);
    // 8 x 3 elements is a whole number of bytes for every width (4 and 6 bits included).
    const Shape shape{8, 3};
    const size_t nb = *dtype_bytes(t, 24);
    auto bytes = random_bytes(nb, uint32_t(i));
    const std::string name = "t." + std::string(dtype_name(t));
    w.add(name, t, shape, bytes);
    expected.emplace_back(name, t, shape, bytes);
  }
  w.set_metadata({{"format", "pt"}, {"note", "round trip"}});
  w.write(dir / "x.safetensors");

  auto f = SafetensorsFile::open(dir / "x.safetensors");
  EXPECT_EQ(f->tensors().size(), expected.size());
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("note"), "round trip");
  for (const auto& [name, dtype, shape, bytes] : expected) {
    const Tensor v = f->view(name);
    EXPECT_EQ(v.dtype(), dtype) << name;
    EXPECT_EQ(v.shape(), shape) << name;
    EXPECT_EQ(tensor_bytes(v), bytes) << name;
  }
}

TEST(SafetensorsRoundTrip, SubByteZeroDimAndEmptyTensors) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("f4", DType::F4, {2, 3}, std::vector<uint8_t>{0x12, 0x34, 0x56});  // 6 x 4 bits
  w.add("f6", DType::F6_E2M3, {4}, std::vector<uint8_t>{1, 2, 3});         // 4 x 6 bits
  w.add("scalar", DType::F32, {}, std::vector<uint8_t>{0, 0, 0x80, 0x3f});  // 0-d: 1.0f
  w.add("empty", DType::BF16, {0, 5}, std::vector<uint8_t>{});
  w.add("empty2", DType::U8, {0}, std::vector<uint8_t>{});
  w.write(dir / "x.safetensors");
  auto f = SafetensorsFile::open(dir / "x.safetensors");
  EXPECT_EQ(tensor_bytes(f->view("f4")), (std::vector<uint8_t>{0x12, 0x34, 0x56}));
  EXPECT_EQ(tensor_bytes(f->view("f6")), (std::vector<uint8_t>{1, 2, 3}));
  const Tensor s = f->view("scalar");
  EXPECT_EQ(s.ndim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.to_f32().data<float>()[0], 1.0f);
  EXPECT_EQ(f->view("empty").numel(), 0);
  EXPECT_EQ(f->view("empty").shape(), (Shape{0, 5}));
  EXPECT_EQ(f->find("empty2")->nbytes(), 0u);
}

TEST(SafetensorsRoundTrip, HeaderIsPaddedWithSpacesToEightBytes) {
  TempDir dir;
  for (int len = 1; len <= 9; ++len) {  // names of every length mod 8
    SafetensorsWriter w;
    w.add(std::string(size_t(len), 'n'), DType::U8, {3}, std::vector<uint8_t>{1, 2, 3});
    w.write(dir / "p.safetensors");
    const std::string bytes = testing::read_bytes(dir / "p.safetensors");
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u) << len;
    const std::string header = bytes.substr(8, n);
    const size_t close = header.rfind('}');
    EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << header;
    EXPECT_EQ(bytes.size(), 8 + n + 3);
  }
}

TEST(SafetensorsRoundTrip, WiderElementsComeFirstSoEveryTensorIsAligned) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("odd_bytes", DType::U8, {3}, std::vector<uint8_t>{1, 2, 3});
  w.add("half", DType::BF16, {1}, std::vector<uint8_t>{0, 0});
  w.add("word", DType::F32, {1}, std::vector<uint8_t>{0, 0, 0, 0});
  w.add("dword", DType::I64, {1}, std::vector<uint8_t>(8, 7));
  w.write(dir / "a.safetensors");
  auto f = SafetensorsFile::open(dir / "a.safetensors");
  EXPECT_EQ(f->data_start() % 8, 0u);
  for (const auto& t : f->tensors())
    EXPECT_EQ(t.begin % uint64_t(std::max(1, dtype_bits(t.dtype) / 8)), 0u) << t.name;
  EXPECT_EQ(f->tensors().front().name, "dword");
  EXPECT_EQ(f->tensors().back().name, "odd_bytes");
}

TEST(SafetensorsRoundTrip, StreamedFillerWritesIntoTheFile) {
  TempDir dir;
  SafetensorsWriter w;
  int calls = 0;
  w.add("big", DType::U16, {1000, 3}, [&](uint8_t* dst, uint64_t n) {
    ++calls;
    ASSERT_EQ(n, 6000u);
    for (uint64_t i = 0; i < n / 2; ++i) {
      const uint16_t v = uint16_t(i * 7);
      std::memcpy(dst + 2 * i, &v, 2);
    }
  });
  w.write(dir / "s.safetensors");
  EXPECT_EQ(calls, 1);
  const Tensor t = SafetensorsFile::open(dir / "s.safetensors")->view("big");
  for (int64_t i = 0; i < 3000; ++i) ASSERT_EQ(t.data<uint16_t>()[i], uint16_t(i * 7));
}

TEST(SafetensorsRoundTrip, FailedFillerLeavesNoFileBehind) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("x", DType::U8, {4}, [](uint8_t*, uint64_t) { throw std::runtime_error("boom"); });
  EXPECT_THROW(w.write(dir / "f.safetensors"), std::runtime_error);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SafetensorsRoundTrip, ViewsOutliveTheFileObject) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("x", Tensor::from_f32({2}, {1.5f, -2.0f}));
  w.write(dir / "v.safetensors");
  Tensor v;
  {
    auto f = SafetensorsFile::open(dir / "v.safetensors");
    v = f->view("x");
  }
  EXPECT_EQ(v.data<float>()[1], -2.0f);
}

// ---- the reference implementation's output --------------------------------------------------

TEST(SafetensorsReference, ReadsFileWrittenByTheSafetensorsPackage) {
  // tests/data/safetensors/reference.safetensors from tools/make_safetensors_fixture.py.
  auto f = SafetensorsFile::open(std::string(MOE_SOURCE_DIR) +
                                 "/tests/data/safetensors/reference.safetensors");
  EXPECT_EQ(f->metadata().at("format"), "pt");
  const Tensor a = f->view("a").to_f32();
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  const std::vector<float> av(a.data<float>(), a.data<float>() + 6);
  EXPECT_EQ(av, (std::vector<float>{1.0f, -2.0f, 3.5f, 0.25f, 0.0f, -0.125f}));
  const Tensor b = f->view("b").to_f32();
  EXPECT_EQ(b.dtype(), DType::F32);
  EXPECT_EQ(b.data<float>()[2], 3.140625f);  // exactly representable in bf16
  EXPECT_EQ(b.data<float>()[3], 65280.0f);
  const Tensor c = f->view("c");
  EXPECT_EQ(c.ndim(), 0);
  int64_t cv;
  std::memcpy(&cv, c.raw(), 8);
  EXPECT_EQ(cv, -7);
  EXPECT_EQ(f->view("d").shape(), (Shape{0}));
  EXPECT_EQ(f->view("e").to_f32().data<float>()[2], 1024.0f);
}

TEST(SafetensorsReference, WriterReproducesTheReferenceBytes) {
  // Same tensors, added in name order: the header, padding, data order and bytes must match.
  const auto ref_path =
      std::string(MOE_SOURCE_DIR) + "/tests/data/safetensors/reference.safetensors";
  auto ref = SafetensorsFile::open(ref_path);
  SafetensorsWriter w;
  for (const std::string name : {"a", "b", "c", "d", "e"}) w.add(name, ref->view(name));
  w.set_metadata(ref->metadata());
  TempDir dir;
  w.write(dir / "mine.safetensors");
  EXPECT_EQ(testing::read_bytes(dir / "mine.safetensors"), testing::read_bytes(ref_path));
}

// ---- sharded checkpoints ---------------------------------------------------------------------

TEST(Checkpoint, ShardedWriteResolvesEveryTensorThroughTheIndex) {
  TempDir dir;
  SafetensorsWriter w;
  for (int i = 0; i < 10; ++i)
    w.add("layer." + std::to_string(i), DType::U8, {100}, random_bytes(100, uint32_t(i)));
  const auto shards = w.write_sharded(dir.path(), 250);  // two tensors per shard
  ASSERT_EQ(shards.size(), 5u);
  EXPECT_EQ(shards[0], "model-00001-of-00005.safetensors");
  EXPECT_EQ(shards[4], "model-00005-of-00005.safetensors");

  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_TRUE(c.sharded());
  EXPECT_EQ(c.files().size(), 5u);
  EXPECT_EQ(c.names().size(), 10u);
  for (int i = 0; i < 10; ++i) {
    const std::string n = "layer." + std::to_string(i);
    EXPECT_EQ(tensor_bytes(c.get(n)), random_bytes(100, uint32_t(i))) << n;
    EXPECT_EQ(c.file_of(n).filename(), shards[size_t(i / 2)]);
  }
  uint64_t disk = 0;
  for (const auto& s : shards) disk += std::filesystem::file_size(dir / s);
  EXPECT_EQ(c.bytes_on_disk(), disk);
  const std::string index = read_text_file(dir / "model.safetensors.index.json");
  EXPECT_THAT(index, ::testing::HasSubstr("\"total_size\": 1000"));
}

TEST(Checkpoint, TensorLargerThanTheShardSizeGetsItsOwnShard) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("small", DType::U8, {10}, random_bytes(10, 1));
  w.add("huge", DType::U8, {1000}, random_bytes(1000, 2));
  w.add("small2", DType::U8, {10}, random_bytes(10, 3));
  EXPECT_EQ(w.write_sharded(dir.path(), 100).size(), 3u);
  EXPECT_EQ(Checkpoint::open(dir.path()).get("huge").numel(), 1000);
}

TEST(Checkpoint, SingleFileCheckpoint) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("w", Tensor::from_f32({2, 2}, {1, 2, 3, 4}));
  w.write(dir / "model.safetensors");
  const Checkpoint c = Checkpoint::open(dir.path());
  EXPECT_FALSE(c.sharded());
  EXPECT_TRUE(c.has("w"));
  EXPECT_FALSE(c.has("v"));
  EXPECT_EQ(c.get("w", DType::F32, {2, 2}).data<float>()[3], 4.0f);
  expect_input_error([&] { c.get("w", DType::BF16, {2, 2}); },
                     {"model.safetensors", "tensor 'w'", "expected BF16 [2, 2], found F32 [2, 2]"});
  expect_input_error([&] { c.get("v"); }, {"'v'", "found none"});
}

TEST(Checkpoint, MissingShardNamesTheFileAndATensorThatNeedsIt) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("a", DType::U8, {8}, random_bytes(8, 1));
  w.add("b", DType::U8, {8}, random_bytes(8, 2));
  const auto shards = w.write_sharded(dir.path(), 8);
  std::filesystem::remove(dir / shards[1]);
  expect_input_error([&] { Checkpoint::open(dir.path()); },
                     {"model-00002-of-00002.safetensors", "tensor 'b'", "no such file"});
}

TEST(Checkpoint, IndexNamingATensorTheShardLacksIsAnError) {
  TempDir dir;
  SafetensorsWriter w;
  w.add("a", DType::U8, {8}, random_bytes(8, 1));
  w.write(dir / "s.safetensors");
  write_bytes(dir / "model.safetensors.index.json",
              R"({"metadata": {}, "weight_map": {"a": "s.safetensors", "ghost": "s.safetensors"}})");
  expect_input_error([&] { Checkpoint::open(dir.path()); },
                     {"model.safetensors.index.json", "weight_map.ghost", "no such tensor",
                      "s.safetensors"});
}

TEST(Checkpoint, MalformedIndexIsAnError) {
  TempDir dir;
  write_bytes(dir / "model.safetensors.index.json", R"({"metadata": {}})");
  expect_input_error([&] { Checkpoint::open(dir.path()); }, {"weight_map", "missing"});
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"a": 3}})");
  expect_input_error([&] { Checkpoint::open(dir.path()); },
                     {"weight_map.a", "expected a shard file name, found 3"});
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "../x.safetensors"}})");
  expect_input_error([&] { Checkpoint::open(dir.path()); }, {"weight_map.a", "file name"});
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map": )");
  expect_input_error([&] { Checkpoint::open(dir.path()); },
                     {"model.safetensors.index.json: byte", "expected valid JSON"});
}

TEST(Checkpoint, DirectoryWithoutWeightsIsAnError) {
  TempDir dir;
  expect_input_error([&] { Checkpoint::open(dir.path()); },
                     {"model.safetensors", "model.safetensors.index.json", "neither"});
  expect_input_error([&] { Checkpoint::open(dir / "nope"); }, {"no such directory"});
}

// ---- validation ------------------------------------------------------------------------------

// Parses in-memory bytes as file "f.safetensors".
SafetensorsHeader parse(const std::string& bytes) {
  return SafetensorsFile::parse_header(reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size(), "f.safetensors");
}
void expect_rejected(const std::string& bytes, const std::vector<std::string>& parts) {
  std::vector<std::string> all{"f.safetensors"};
  all.insert(all.end(), parts.begin(), parts.end());
  expect_input_error([&] { parse(bytes); }, all);
}

TEST(SafetensorsValidation, AcceptsAWellFormedHeader) {
  const auto h = parse(safetensors_bytes(
      R"({"__metadata__":{"k":"v"},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
      R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0,3],"data_offsets":[6,6]}})",
      std::string(6, '\0')));
  ASSERT_EQ(h.tensors.size(), 3u);
  EXPECT_EQ(h.tensors[0].name, "a");  // sorted by offset
  EXPECT_EQ(h.metadata.at("k"), "v");
}

TEST(SafetensorsValidation, FileShorterThanTheLengthField) {
  expect_rejected("abc", {"expected at least 8 bytes", "found a file of 3 bytes"});
}

TEST(SafetensorsValidation, HeaderLengthAboveTheLimit) {
  expect_rejected(safetensors_bytes("{}", "", 100'000'001),
                  {"byte 0", "at most 100000000", "found 100000001"});
}

TEST(SafetensorsValidation, HeaderLengthBeyondTheFile) {
  expect_rejected(safetensors_bytes("{}", "", 50), {"byte 0", "at most 2", "found 50"});
}

TEST(SafetensorsValidation, NonJsonHeader) {
  expect_rejected(safetensors_bytes(R"({"a": [1, 2})", ""), {"byte ", "expected a JSON header"});
  expect_rejected(safetensors_bytes("\xff\xfe", ""), {"expected a JSON header"});
  // A number beyond double range is the parser's out_of_range error, not a parse_error.
  expect_rejected(safetensors_bytes(R"({"a": 1e999})", ""),
                  {"byte 8", "expected a JSON header", "number overflow parsing '1e999'"});
}

TEST(SafetensorsValidation, NonObjectHeader) {
  expect_rejected(safetensors_bytes("[1, 2]", ""), {"byte 8", "JSON object", "an array"});
}

TEST(SafetensorsValidation, EntryMissingAField) {
  expect_rejected(safetensors_bytes(R"({"w":{"shape":[1],"data_offsets":[0,1]}})", "x"),
                  {"tensor 'w'", "'dtype'", "found nothing"});
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", "x"),
                  {"tensor 'w'", "'shape'", "found nothing"});
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1]}})", "x"),
                  {"tensor 'w'", "'data_offsets'", "found nothing"});
  expect_rejected(safetensors_bytes(R"({"w":7})", ""), {"tensor 'w'", "found 7 (integer)"});
}

TEST(SafetensorsValidation, UnknownDtype) {
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"Q4_K","shape":[1],"data_offsets":[0,1]}})",
                                    "x"),
                  {"tensor 'w'", "BF16", "found \"Q4_K\""});
}

TEST(SafetensorsValidation, LongMultiByteDtypeIsQuotedWithoutSplittingACodePoint) {
  // 56 ASCII bytes then "é" (2 bytes) straddling the 57-byte quoting limit.
  const std::string dtype = std::string(56, 'x') + "\xc3\xa9" + std::string(10, 'y');
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":")" + dtype + R"(","shape":[1],"data_offsets":[0,1]}})",
                                    "x"),
                  {"tensor 'w'", "found \"" + std::string(56, 'x') + "...\""});
}

TEST(SafetensorsValidation, NegativeOrNonIntegerDimension) {
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[2,-1],"data_offsets":[0,1]}})",
                                    "x"),
                  {"tensor 'w'", "shape[1]", "non-negative integer", "found -1"});
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})",
                                    "x"),
                  {"shape[0]", "found 1.5"});
}

TEST(SafetensorsValidation, BadDataOffsets) {
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[1]}})", "x"),
                  {"tensor 'w'", "[begin, end]", "found [1]"});
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[2,1]}})",
                                    "xx"),
                  {"begin <= end", "[2,1]"});
}

TEST(SafetensorsValidation, OffsetsOutsideTheBuffer) {
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
                                    "xx"),
                  {"tensor 'w' at byte 61", "within the data buffer [0, 2)", "[0, 4)"});
}

TEST(SafetensorsValidation, OverlappingRanges) {
  expect_rejected(
      safetensors_bytes(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                        R"("b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                        std::string(6, 'x')),
      {"tensor 'b' at byte", "starting at 4", "tensor 'a' [0, 4)", "found [2, 6)", "overlaps"});
}

TEST(SafetensorsValidation, GapBetweenRanges) {
  expect_rejected(
      safetensors_bytes(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                        R"("b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}})",
                        std::string(6, 'x')),
      {"tensor 'b'", "starting at 2", "right after tensor 'a'", "a gap of 2 bytes"});
  expect_rejected(
      safetensors_bytes(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}})",
                        std::string(3, 'x')),
      {"tensor 'a'", "starting at 0", "the start of the data buffer"});
}

TEST(SafetensorsValidation, TrailingBytesAfterTheLastTensor) {
  expect_rejected(
      safetensors_bytes(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})",
                        std::string(5, 'x')),
      {"cover the whole data buffer (5 bytes)", "found 3 bytes after the last tensor 'a'"});
}

TEST(SafetensorsValidation, SizeDisagreesWithShapeAndDtype) {
  const std::string header = R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})";
  const auto msg = expect_input_error(
      [&] { parse(safetensors_bytes(header, std::string(8, 'x'))); },
      {"f.safetensors: tensor 'w' at byte", "expected 12 bytes for BF16 [2, 3]",
       "found data_offsets [0, 8) (8 bytes)"});
  EXPECT_THAT(msg, ::testing::HasSubstr("at byte " + std::to_string(8 + header.size())));
}

TEST(SafetensorsValidation, SubByteSizeMustBeWholeBytes) {
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})",
                                    "xx"),
                  {"tensor 'w'", "whole number of bytes for F4 [3]"});
}

TEST(SafetensorsValidation, DuplicateNames) {
  expect_rejected(safetensors_bytes(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                    R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                    "xx"),
                  {"tensor 'w'", "unique tensor names", "twice"});
}

TEST(SafetensorsValidation, MetadataMustMapStringsToStrings) {
  expect_rejected(safetensors_bytes(R"({"__metadata__":{"format":1}})", ""),
                  {"'__metadata__.format'", "expected a string, found 1"});
  expect_rejected(safetensors_bytes(R"({"__metadata__":[]})", ""),
                  {"'__metadata__'", "object of string values"});
}

TEST(SafetensorsValidation, HugeShapeIsRejectedWithoutOverflow) {
  expect_rejected(
      safetensors_bytes(
          R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", "xxxx"),
      {"tensor 'w'", "fewer than 2^62 elements"});
  EXPECT_NO_THROW(parse(safetensors_bytes(
      R"({"w":{"dtype":"F32","shape":[0,4611686018427387903],"data_offsets":[0,0]}})", "")));
  expect_rejected(
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[0,4611686018427387904,8],"data_offsets":[0,0]}})",
                        ""),
      {"fewer than 2^62 elements"});
  expect_rejected(
      safetensors_bytes(R"({"w":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})",
                        "xxxx"),
      {"shape[0]", "below 2^63"});
}

TEST(SafetensorsValidation, OpenNamesTheFileOnDisk) {
  TempDir dir;
  write_bytes(dir / "broken.safetensors",
              safetensors_bytes(R"({"w":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}})", "abc"));
  expect_input_error([&] { SafetensorsFile::open(dir / "broken.safetensors"); },
                     {(dir / "broken.safetensors").string(), "tensor 'w'"});
  expect_input_error([&] { SafetensorsFile::open(dir / "none.safetensors"); },
                     {"none.safetensors", "cannot open"});
  write_bytes(dir / "empty.safetensors", "");
  expect_input_error([&] { SafetensorsFile::open(dir / "empty.safetensors"); },
                     {"empty.safetensors", "at least 8 bytes"});
}

}  // namespace
}  // namespace moe::io
