// InputIdentity: what a sweep's results depend on besides its configuration, so that unit ids can
// cover it (sweeps/plan/plan.h) and a store can refuse a resume on changed inputs:
//   - a fingerprint of every input: a checkpoint (every top-level file except weight shards in
//     full, and each *.safetensors shard's size, header and 16 evenly spaced 64 KiB samples of
//     its weights), a data path (every file it names: the file, every file under the directory,
//     or every file matching a {language} template);
//   - the numeric class of each model's backend: "cpu-ref", "cpu@<CPU level>" (the fast backend's
//     kernels differ in their last bits between levels), "cuda";
//   - the numerics version: the digest of the sources that compute results
//   (runtime/core/version.h).
// Fingerprints are XXH3-128 digests (32 hex digits) of the bytes read; each input is read once per
// identify_inputs() call, never per unit.
//
// The store keeps the identity it was built from (DIR/inputs.json, results/store.h); a resume
// compares it with the current one (changed_inputs) and refuses on a difference unless the user
// accepts it, in which case the affected units get new ids and are recomputed, never mixed.
// Thread-safety: plain value types; identify_inputs reads files.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "sweeps/config/config.h"

namespace moe::sweeps {

struct InputIdentity {
  // "models.<name>", "corpora.<name>", "tasks.<name>", "tasks.<name>.exemplars" -> fingerprint
  std::map<std::string, std::string> files;
  std::map<std::string, std::string> numerics;  // "models.<name>" -> numeric class
  std::string numerics_version;

  bool empty() const { return files.empty() && numerics.empty() && numerics_version.empty(); }
  // The fingerprint of `key` ("" when the identity has none: a plan made without inputs).
  std::string file(const std::string& key) const;
  std::string numeric(const std::string& model_key) const;

  std::string to_json() const;
  // InputError naming `where` on text that is not such a JSON document.
  static InputIdentity from_json(const std::string& text, const std::string& where);
};

// Fingerprints every model, corpus and task path of `c` and the numerics of each model's backend.
// InputError naming the config key ("<config>: corpora.flores.path") and the path for a missing
// or unreadable input, or a checkpoint shard whose header cannot be read.
InputIdentity identify_inputs(const SweepConfig& c);

// What differs between the identity a store was built from (`stored`) and `now`, one line each
// ("corpora.flores: content changed (fingerprint 1a2b... -> 9f8e...)"). Inputs present in only one
// of them are configuration changes, not changed inputs: they are not listed.
std::vector<std::string> changed_inputs(const InputIdentity& stored, const InputIdentity& now);

}  // namespace moe::sweeps
