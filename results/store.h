// Store: a sweep's output directory, shared by every worker of the sweep.
//
//   DIR/config.yaml        the effective configuration the workers run (written atomically)
//   DIR/config.source.yaml the configuration as written, with the command-line overrides
//   DIR/units/<unit>.h5    one finished unit; its presence means done (never partially written)
//   DIR/tmp/               unit files being written (a killed writer leaves debris here only)
//   DIR/leases/            who runs which batch (results/lease.h)
//   DIR/failed/<batch>.txt the error that stopped a batch (cleared when it is retried)
//   DIR/results.h5         the merged file (results/merge.h)
//
// commit() writes a unit file under tmp/, fsyncs it, renames it into units/ and fsyncs the
// directory, so after a crash a unit is either complete or absent. One writer per unit file is
// guaranteed by the leases; HDF5 file locking is therefore off (results/h5.h).
// Thread-safety: const methods may be called from several threads except commit()/read(),
// which use HDF5 (results/h5.h: one thread per process for HDF5).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "results/unit_result.h"

namespace moe::results {

// Who made a unit file and what it is; stored as attributes of the unit file's root.
struct UnitMeta {
  std::string unit;                           // unit id (the file stem)
  std::string kind;                           // stats | experts | eval
  std::map<std::string, std::string> labels;  // model, task, language, point, range, ...
  std::string runner;                         // the UnitRunner that produced it
  // Filled by commit(): code version, CPU level (cpu_isa.h's isa_description), host, owner,
  // unix time.
  std::string code_version, cpu_isa, host, owner;
  double created = 0;
};

struct FailedBatch {
  std::string batch;
  std::string error;
  std::string owner;
};

class Store {
 public:
  explicit Store(std::filesystem::path dir);  // creates the folders

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path unit_path(const std::string& unit) const;
  std::filesystem::path leases_dir() const { return dir_ / "leases"; }

  bool done(const std::string& unit) const;
  std::set<std::string> done_units() const;  // one scan of units/

  // Writes, fsyncs and renames the unit file into place. `owner` names the writer.
  void commit(UnitMeta meta, const UnitResult& r, const std::string& owner) const;
  UnitResult read(const std::string& unit, UnitMeta* meta = nullptr) const;

  void mark_failed(const std::string& batch, const std::string& error,
                   const std::string& owner) const;
  void clear_failed(const std::string& batch) const;
  void clear_all_failed() const;
  std::map<std::string, FailedBatch> failed() const;

  // Removes tmp/ debris older than `age_s` (writers killed mid-write).
  int clean_tmp(double age_s) const;

  // config.yaml: the effective config the workers run; config.source.yaml: as the user wrote it
  // (with the command-line overrides listed). Both replaced atomically.
  void write_config(const std::string& resolved_yaml, const std::string& source_yaml) const;
  std::filesystem::path config_path() const { return dir_ / "config.yaml"; }
  std::string read_source_config() const;  // "" if absent

 private:
  std::filesystem::path dir_;
};

// Writes `content` to `path` atomically (temp file, fsync, rename, fsync of the directory).
void write_file_atomic(const std::filesystem::path& path, const std::string& content);
// fsync of a file or directory by path.
void fsync_path(const std::filesystem::path& path);

}  // namespace moe::results
