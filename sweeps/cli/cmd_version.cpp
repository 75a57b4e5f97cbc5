// `moe-sweep version`: the code version, the CPU level in use and the build's optional parts.
#include <cstdio>
#include <string>

#include "runtime/core/cpu_isa.h"
#include "runtime/core/version.h"
#include "sweeps/cli/command.h"

MOE_COMMAND(version, 1000, "Print the version and build features", [](CLI::App&) {
  return [] {
    std::printf("moe-sweep %s\n", moe::code_version());
    std::printf("cpu level: %s\n", std::string(moe::cpu::isa_description()).c_str());
#ifdef MOE_HAVE_CUDA
    std::printf("cuda: yes\n");
#else
    std::printf("cuda: no\n");
#endif
    return 0;
  };
});
