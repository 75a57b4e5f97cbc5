// UnitResult: what one unit of a sweep produces, before it is stored in its unit file.
//
// A result is generic so that every phase can record what it measures without the store
// knowing the details:
//  - tables: named tables of equal-length columns (int64, double or string), e.g. "samples"
//    (one row per evaluated sample) or "experts" (one row per selected expert);
//  - arrays: named n-d arrays (f32, f64, i64, or u16 for bf16 bits) with a rule saying how the
//    arrays of several sample ranges combine: kConcat stacks along the first axis (per-sequence
//    values), kSum adds (counts), kSame requires them equal (descriptions such as layer ids);
//  - notes: free-form key -> text facts to keep with the result (e.g. "sparsemixer: logits are
//    not shift-invariant").
// Unit files (results/SCHEMA.md, "Unit files") hold /tables/<name>, /arrays/<name>, /notes.
// Thread-safety: plain value types; the HDF5 functions follow results/h5.h (one thread).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace moe::h5 {
class Group;
}

namespace moe::results {

using ColumnValues =
    std::variant<std::vector<int64_t>, std::vector<double>, std::vector<std::string>>;

struct Column {
  std::string name;
  ColumnValues values;
  size_t size() const;
};

// A table: ordered columns of equal length.
class Table {
 public:
  std::deque<Column> columns;  // a deque: col() references stay valid as columns are added

  size_t rows() const { return columns.empty() ? 0 : columns[0].size(); }
  const Column* find(const std::string& name) const;  // null if absent
  // Typed access to a column that must exist with that type (InternalError otherwise).
  template <typename T>
  const std::vector<T>& get(const std::string& name) const;
  // Adds (or returns the existing) column of type T.
  template <typename T>
  std::vector<T>& col(const std::string& name);
  // Appends the rows of `other`, which must have the same columns in the same order and types.
  void append(const Table& other);
  // Rows [i] for each i in `order` (a permutation or a selection).
  Table select(const std::vector<size_t>& order) const;
  // Checks every column has rows() values (InternalError naming the column otherwise).
  void check(const std::string& what) const;

  void write(const h5::Group& parent, const std::string& name) const;
  static Table read(const h5::Group& parent, const std::string& name);
};

enum class Combine { kConcat, kSum, kSame };

using ArrayValues = std::variant<std::vector<float>, std::vector<double>, std::vector<int64_t>,
                                 std::vector<uint16_t>>;

struct Array {
  std::vector<uint64_t> shape;
  ArrayValues values;
  Combine combine = Combine::kConcat;
  size_t size() const;
  // Combines `other` (the next sample range) into this one per `combine`; shapes must agree
  // (all but the first axis for kConcat, all for kSum). InputError naming `what` otherwise.
  void merge(const Array& other, const std::string& what);
  void write(const h5::Group& parent, const std::string& name) const;
  static Array read(const h5::Group& parent, const std::string& name);
};

struct UnitResult {
  std::map<std::string, Table> tables;
  std::map<std::string, Array> arrays;
  std::map<std::string, std::string> notes;

  // Writes /tables, /arrays, /notes under `g`; reads them back.
  void write(const h5::Group& g) const;
  static UnitResult read(const h5::Group& g);
};

// Combines the results of consecutive sample ranges of one thing (in range order): tables are
// appended, arrays merged by their combine rule, notes united. `what` names it in errors.
UnitResult combine_results(const std::vector<UnitResult>& parts, const std::string& what);

// The results of several units as bytes (an in-memory HDF5 image in the unit-file layout, one
// group per result) and back: how the ranks of a replica hand their shares to its leader.
// from_bytes throws InputError naming `what` on bytes that are not such an image.
std::string to_bytes(const std::vector<UnitResult>& results);
std::vector<UnitResult> from_bytes(const std::string& bytes, const std::string& what);

}  // namespace moe::results
