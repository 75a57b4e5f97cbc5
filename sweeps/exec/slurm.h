// SLURM submission: `moe-sweep submit` writes an array job whose tasks are workers on the
// shared output directory (each one `moe-sweep run`, taking pending batches under leases) and a
// merge job that depends on them (afterany).
//
// Arrays larger than the cluster's MaxArraySize (read from `scontrol show config`) are split
// into several array jobs; every array carries the %throttle. Tasks do not map to units: each
// takes whatever is pending, so resubmitting runs only the units that are not done.
// The job scripts are rendered from the templates in slurm/ (array.sbatch.in, merge.sbatch.in).
// Thread-safety: runs external commands; call from one thread.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sweeps/config/config.h"

namespace moe::sweeps {

struct SubmitOptions {
  std::filesystem::path out;        // the sweep's output directory
  std::filesystem::path sweep_bin;  // the moe-sweep binary the jobs run
  std::filesystem::path templates;  // folder with array.sbatch.in and merge.sbatch.in
  int tasks = 0;                    // array tasks (0 = config slurm.array_tasks)
  int pending_batches = 0;          // at most this many tasks are useful
  bool dry_run = false;             // write the scripts, print the sbatch lines, submit nothing
};

struct SubmitResult {
  std::vector<std::string> array_jobs;  // job ids
  std::string merge_job;
  std::vector<std::string> commands;    // the sbatch command lines
  int max_array_size = 0;
};

// MaxArraySize from `scontrol show config` (its output given, for tests).
int parse_max_array_size(const std::string& scontrol_show_config);

// Array index ranges of at most max_array_size tasks each: "0-4%2", "0-2%2".
std::vector<std::string> array_chunks(int tasks, int max_array_size, int throttle);

// Renders @KEY@ placeholders; an unknown placeholder left in the text is an InternalError.
std::string render_template(const std::string& text,
                            const std::vector<std::pair<std::string, std::string>>& values);

// Finds the slurm/ templates folder: $MOE_SLURM_TEMPLATES, next to the binary, the source tree.
std::filesystem::path find_templates(const std::filesystem::path& sweep_bin);

SubmitResult submit(const SweepConfig& c, const SubmitOptions& o);

}  // namespace moe::sweeps
