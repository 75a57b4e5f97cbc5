// Store: a sweep's output directory, shared by every worker of the sweep.
//
//   DIR/config.yaml        the effective configuration the workers run (written atomically)
//   DIR/config.source.yaml the configuration as written, with the command-line overrides
//   DIR/inputs.json        what the units were computed from (sweeps/plan/inputs.h), checked
//                          on resume
//   DIR/units/<unit>.h5    one finished unit; its presence means done (never partially written)
//   DIR/quarantine/        damaged unit files moved out of units/ (with a .txt saying why)
//   DIR/tmp/               unit files being written (a killed writer leaves debris here only)
//   DIR/leases/            who runs which batch (results/lease.h)
//   DIR/failed/<batch>.txt the error that stopped a batch (cleared when it is retried)
//   DIR/results.h5         the merged file (results/merge.h)
//
// commit() writes a unit file under tmp/, fsyncs it, renames it into units/ and fsyncs the
// directory, so after a crash a unit is either complete or absent. Every unit file carries its
// own checksum in the HDF5 user block (the first kUnitHeaderBytes bytes, which HDF5 skips): a
// text header "moe-sweep unit\nxxh3-128 <32 hex>\nbytes <file size>\n" whose digest covers
// every byte after the header. damage() checks it without parsing the HDF5 structure (a damaged
// file can crash the HDF5 library), and read() refuses a file that fails it. One writer per unit
// file is guaranteed by the leases; HDF5 file locking is therefore off (results/h5.h).
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

constexpr uint64_t kUnitHeaderBytes = 512;  // the HDF5 user block of a unit file

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

  // How much of a unit file damage() reads: the header and the file's size (kHeader: catches
  // truncated, extended and overwritten-at-the-start files at the cost of one small read, what a
  // run checks of every unit at its start), or every byte against the checksum (kFull: merge,
  // status --check, and read(), so every unit a run reads as input).
  enum class Check { kHeader, kFull };
  // Why unit file `unit` cannot be trusted ("" when it is intact): truncated, not written by
  // commit(), or (kFull) bytes that do not match its checksum.
  std::string damage(const std::string& unit, Check check = Check::kFull) const;
  // Moves a damaged unit file to quarantine/ (with <name>.txt holding `why`), so that the unit
  // is pending again; returns the new path ("" when another process moved it first).
  std::filesystem::path quarantine(const std::string& unit, const std::string& why) const;
  // Checks every unit of `units` that is present and quarantines the damaged ones; returns
  // "<unit>: <why>" for each.
  std::vector<std::string> quarantine_damaged(const std::vector<std::string>& units,
                                              Check check = Check::kFull) const;

  // Writes, fsyncs and renames the unit file into place. `owner` names the writer.
  void commit(UnitMeta meta, const UnitResult& r, const std::string& owner) const;
  // InputError naming the file when it is damaged (damage(): the file is then moved to
  // quarantine/) or not a unit file.
  UnitResult read(const std::string& unit, UnitMeta* meta = nullptr) const;

  void mark_failed(const std::string& batch, const std::string& error,
                   const std::string& owner) const;
  void clear_failed(const std::string& batch) const;
  void clear_all_failed() const;
  std::map<std::string, FailedBatch> failed() const;

  // Removes what killed processes left: tmp/ debris and temporary files of atomic writes older
  // than `age_s`, and merge temporary files (results.h5.tmp.<host>.<pid>) whose process is gone
  // from this host. Returns the number of files removed.
  int clean_tmp(double age_s) const;
  // The temporary name a merge into `out` writes under ("<out>.tmp.<host>.<pid>").
  static std::filesystem::path merge_tmp(const std::filesystem::path& out);

  // config.yaml: the effective config the workers run; config.source.yaml: as the user wrote it
  // (with the command-line overrides listed). Both replaced atomically.
  void write_config(const std::string& resolved_yaml, const std::string& source_yaml) const;
  std::filesystem::path config_path() const { return dir_ / "config.yaml"; }
  std::string read_source_config() const;  // "" if absent

  // inputs.json: the identity of the inputs the units were computed from (replaced atomically).
  std::filesystem::path inputs_path() const { return dir_ / "inputs.json"; }
  void write_inputs(const std::string& json) const;
  std::string read_inputs() const;  // "" if absent

 private:
  std::filesystem::path dir_;
};

// A temporary file that is removed on destruction unless kept: a writer that fails (a full disk)
// leaves nothing behind.
class TempFile {
 public:
  explicit TempFile(std::filesystem::path path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    std::error_code ec;
    if (!kept_) std::filesystem::remove(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  void keep() { kept_ = true; }  // renamed into place: nothing to remove

 private:
  std::filesystem::path path_;
  bool kept_ = false;
};

// Writes `content` to `path` atomically (temp file, fsync, rename, fsync of the directory).
void write_file_atomic(const std::filesystem::path& path, const std::string& content);
// fsync of a file or directory by path.
void fsync_path(const std::filesystem::path& path);

}  // namespace moe::results
