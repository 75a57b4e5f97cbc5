// `moe-sweep version`: the code version and the build's optional parts.
#include <cstdio>

#include "runtime/core/version.h"
#include "sweeps/cli/command.h"

MOE_COMMAND(version, 1000, "Print the version and build features", [](CLI::App&) {
  return [] {
    std::printf("moe-sweep %s\n", moe::code_version());
#ifdef MOE_HAVE_CUDA
    std::printf("cuda: yes\n");
#else
    std::printf("cuda: no\n");
#endif
    return 0;
  };
});
