// Leases: which worker is running which batch, shared through files in one directory, so that
// any number of processes on any number of nodes (SLURM array tasks on a shared file system)
// never run the same batch at once, and the batches of a dead worker become free again.
//
// A lease is the file <dir>/<name>.lease holding the holder's token. It is created atomically
// (written to a unique temporary file, then link()ed into place: atomic on local and NFS file
// systems) and kept alive by touching its mtime (heartbeat). A lease whose mtime is older than
// the TTL is stale, and so is a lease whose holder was a process of this host that no longer
// exists or is a zombie (a killed worker's batches are free at once on its own node). Taking
// over a stale lease goes through a break file <name>.break.<token hash>, also created
// atomically, so exactly one process removes each lease generation; a breaker that died before
// finishing is taken over the same way (through a break file keyed by its own token); break
// files stay until remove_all() (the batch is done). Ages are measured against the file
// system's own clock (the mtime of a freshly touched file), never the local clock, so clock skew
// between nodes does not matter.
//
// Thread-safety: one Leases object may be used from several threads (internal mutex).
#pragma once

#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace moe::results {

struct LeaseInfo {
  std::string name;
  std::string owner;   // "host:pid:..." of the holder
  double age_s = 0;    // seconds since the last heartbeat
  bool dead = false;   // the holder was a process of this host that is gone or a zombie
};

class Leases {
 public:
  // owner: a unique, human-readable id of this process ("host:pid:rand").
  Leases(std::filesystem::path dir, std::string owner, double ttl_s);
  ~Leases();  // removes this owner's clock probe file
  Leases(const Leases&) = delete;
  Leases& operator=(const Leases&) = delete;

  // Takes the lease `name` if it is free or stale. False if another live holder has it.
  bool acquire(const std::string& name);
  // Touches every lease this object holds. Returns the names that were taken over by others
  // (this process was presumed dead); those are forgotten.
  std::vector<std::string> heartbeat();
  // Gives the lease back (no-op if not held).
  void release(const std::string& name);
  // Removes every file of lease `name` (lease and break files): call once its batch is done.
  void remove_all(const std::string& name);
  // Removes what killed processes left: every file of the leases in `done` (batches finished by
  // a process killed before its remove_all), clock probes of holders that are dead (this host)
  // or silent for more than 2 TTLs, and temporary files older than the TTL (they live for
  // microseconds). Returns the number of files removed.
  int clean(const std::set<std::string>& done);
  bool holds(const std::string& name) const;

  // Every lease in the directory, with its age. `live_only` drops stale ones.
  std::vector<LeaseInfo> list(bool live_only = false) const;
  // The lease `name` exists, is not ours and is live.
  bool held_by_other(const std::string& name) const;

  const std::string& owner() const { return owner_; }
  double ttl_s() const { return ttl_s_; }
  // Seconds on the file system's clock (mtime of a freshly touched probe file).
  double fs_now() const;

  // A unique owner id for this process: "host:pid:<random hex>".
  static std::string make_owner();

 private:
  std::filesystem::path path(const std::string& name) const;
  std::string new_token();
  std::string unique();  // a temporary-file suffix no other process uses
  // Takes the right to remove lease generation `old_token` of `name` for `token` (see above).
  bool take_break(const std::string& name, const std::string& old_token, const std::string& token);

  std::filesystem::path dir_;
  std::string owner_;
  double ttl_s_;
  mutable std::mutex mu_;
  std::set<std::string> held_;           // names
  std::vector<std::pair<std::string, std::string>> tokens_;  // name -> our token
  uint64_t counter_ = 0;
};

// Creates `path` with `content` atomically; false if it already exists. Other errors throw.
bool create_exclusive(const std::filesystem::path& path, const std::string& content,
                      const std::string& unique);

}  // namespace moe::results
