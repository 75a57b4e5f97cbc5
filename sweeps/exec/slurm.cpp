#include "sweeps/exec/slurm.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "results/store.h"
#include "runtime/core/error.h"

#ifndef MOE_SOURCE_DIR
#define MOE_SOURCE_DIR ""
#endif

namespace moe::sweeps {
namespace fs = std::filesystem;

namespace {

struct CommandOutput {
  int status = -1;
  std::string out;
};

// Runs argv (no shell), capturing stdout; stderr goes to ours.
CommandOutput run_command(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe(fds) != 0) throw Error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw Error("fork failed");
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    _exit(127);
  }
  ::close(fds[1]);
  CommandOutput r;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof(buf))) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    r.out.append(buf, size_t(n));
  }
  ::close(fds[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw InputError(p.string(), "cannot read the job template");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string shell_quote(const std::string& s) {
  std::string out;
  out.push_back('\'');
  for (char c : s) {
    if (c == '\'') out.append("'\\''");
    else out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string command_line(const std::vector<std::string>& argv) {
  std::string line;
  for (const auto& a : argv) {
    if (!line.empty()) line.push_back(' ');
    line.append(shell_quote(a));
  }
  return line;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

int parse_max_array_size(const std::string& text) {
  static const std::regex re(R"(^\s*MaxArraySize\s*=\s*(\d+)\s*$)");
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, re)) return std::stoi(m[1]);
  }
  throw InputError("scontrol show config", "expected a line 'MaxArraySize = N', found none");
}

std::vector<std::string> array_chunks(int tasks, int max_array_size, int throttle) {
  MOE_ASSERT(max_array_size >= 1, "MaxArraySize {}", max_array_size);
  std::vector<std::string> out;
  for (int left = tasks; left > 0;) {
    const int n = std::min(left, max_array_size);  // indices 0..n-1 < MaxArraySize
    std::string r = n == 1 ? "0" : fmt::format("0-{}", n - 1);
    if (throttle > 0) r += fmt::format("%{}", throttle);
    out.push_back(r);
    left -= n;
  }
  return out;
}

std::string render_template(const std::string& text,
                            const std::vector<std::pair<std::string, std::string>>& values) {
  std::string out = text;
  for (const auto& [k, v] : values) {
    const std::string key = "@" + k + "@";
    for (size_t pos = 0; (pos = out.find(key, pos)) != std::string::npos; pos += v.size())
      out.replace(pos, key.size(), v);
  }
  static const std::regex left(R"(@[A-Z_]+@)");
  std::smatch m;
  if (std::regex_search(out, m, left))
    throw InternalError("job template placeholder " + m.str() + " has no value");
  return out;
}

fs::path find_templates(const fs::path& sweep_bin) {
  std::vector<fs::path> candidates;
  if (const char* e = std::getenv("MOE_SLURM_TEMPLATES")) candidates.emplace_back(e);
  const fs::path bin_dir = sweep_bin.parent_path();
  candidates.push_back(bin_dir / "../share/moe-sweep/slurm");
  candidates.push_back(bin_dir / "../../slurm");  // build/bin -> source tree
  candidates.push_back(fs::path(MOE_SOURCE_DIR) / "slurm");
  for (const auto& c : candidates)
    if (fs::exists(c / "array.sbatch.in")) return fs::weakly_canonical(c);
  throw InputError("slurm templates",
                   "expected array.sbatch.in in $MOE_SLURM_TEMPLATES, next to the binary or in "
                   "the source tree, found none");
}

SubmitResult submit(const SweepConfig& c, const SubmitOptions& o) {
  const SlurmOptions& s = c.slurm;
  SubmitResult r;
  int tasks = o.tasks > 0 ? o.tasks : s.array_tasks;
  tasks = std::min(tasks, std::max(o.pending_batches, 0));
  if (tasks == 0) return r;

  CommandOutput conf = o.dry_run ? CommandOutput{0, "MaxArraySize = 1001\n"}
                                 : run_command({"scontrol", "show", "config"});
  if (conf.status != 0)
    throw InputError("scontrol show config",
                     fmt::format("expected SLURM's scontrol to answer, found exit status {} (is "
                                 "SLURM installed and SLURM_CONF right?)",
                                 conf.status));
  r.max_array_size = parse_max_array_size(conf.out);

  // #SBATCH lines for the options the config sets.
  std::string directives;
  auto directive = [&](const char* opt, const std::string& v) {
    if (!v.empty()) directives += fmt::format("#SBATCH --{}={}\n", opt, v);
  };
  directive("partition", s.partition);
  directive("account", s.account);
  directive("gres", s.gres);
  directive("mem", s.mem);
  directive("qos", s.qos);
  if (s.cpus_per_task > 0) directive("cpus-per-task", std::to_string(s.cpus_per_task));
  for (const auto& a : s.sbatch_args) directives += "#SBATCH " + a + "\n";
  std::string setup;
  for (const auto& line : s.setup) setup += line + "\n";
  const std::string launcher = s.launcher == "none" ? "" : s.launcher;
  const std::vector<std::pair<std::string, std::string>> values = {
      {"CONFIG", c.source.string()},
      {"NAME", c.name},
      {"OUT", fs::absolute(o.out).string()},
      {"TIME", s.time},
      {"NODES", std::to_string(s.nodes)},
      {"NTASKS", std::to_string(s.ntasks)},
      {"SIGNAL_S", std::to_string(s.signal_s)},
      {"DIRECTIVES", trim(directives)},
      {"SETUP", trim(setup)},
      {"WORKDIR", fs::current_path().string()},
      {"LAUNCHER", launcher},
      {"SWEEP", fs::absolute(o.sweep_bin).string()},
  };
  const fs::path dir = o.out / "slurm";
  fs::create_directories(dir);
  fs::create_directories(o.out / "logs");
  const fs::path array_script = dir / "array.sbatch", merge_script = dir / "merge.sbatch";
  results::write_file_atomic(array_script, render_template(read_text(o.templates / "array.sbatch.in"), values));
  results::write_file_atomic(merge_script, render_template(read_text(o.templates / "merge.sbatch.in"), values));

  for (const auto& range : array_chunks(tasks, r.max_array_size, s.throttle)) {
    std::vector<std::string> cmd = {"sbatch", "--parsable", "--array=" + range,
                                    array_script.string()};
    const std::string line = command_line(cmd);
    r.commands.push_back(line);
    if (o.dry_run) continue;
    CommandOutput out = run_command(cmd);
    if (out.status != 0) throw Error(fmt::format("sbatch failed (exit {}): {}", out.status, line));
    r.array_jobs.push_back(trim(out.out.substr(0, out.out.find(';'))));
  }
  std::string dep = "afterany";
  for (const auto& j : r.array_jobs) dep += ":" + j;
  std::vector<std::string> cmd = {"sbatch", "--parsable",
                                  "--dependency=" + (r.array_jobs.empty() ? "afterany:<array jobs>" : dep),
                                  merge_script.string()};
  const std::string line = command_line(cmd);
  r.commands.push_back(line);
  if (!o.dry_run) {
    CommandOutput out = run_command(cmd);
    if (out.status != 0) throw Error(fmt::format("sbatch failed (exit {}): {}", out.status, line));
    r.merge_job = trim(out.out.substr(0, out.out.find(';')));
  }
  return r;
}

}  // namespace moe::sweeps
