// Report: the studies' tables from a sweep's merged results.h5 (results/SCHEMA.md), as
// `moe-sweep report` prints them. Per (model, task):
//   - best points: every grid point ranked by its mean difference from the baseline over the
//     task's languages, with the non-English and low-resource averages and, across languages,
//     the sign test and paired t-test of the per-language differences (results/significance.h);
//   - per language, base vs intervened for the best points (or the points asked for): score,
//     delta, the paired-bootstrap CI and the exact McNemar p stored by the merge, consistency,
//     then the mean, non-English and low-resource rows;
//   - the mean score over languages by layer window x (tau, lambda, K, thr), one grid per
//     (method, expert rule, direction).
// Everything is read from the file: the report needs neither the config nor the unit files.
// Thread-safety: HDF5 from one thread (results/h5.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace moe::results {

struct ReportOptions {
  int top = 5;                      // points in the best-points table (0 = all)
  int detail = 1;                   // best points shown per language
  std::vector<std::string> points;  // points shown per language as well (ids)
  std::string model, task;          // only this model / task ("" = all)
};

// Throws InputError naming the file and object when it is not a merged sweep file.
std::string format_report(const std::filesystem::path& results, const ReportOptions& options);

}  // namespace moe::results
