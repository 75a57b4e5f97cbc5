// Choosing the CUDA backend by name: "cuda" is a known name everywhere; where it cannot run (no
// CUDA in the build, no driver, no GPU) make_backend and the CLI fail with one clear message,
// "CUDA backend not available: <reason>", instead of crashing. These run on the CPU; the cases
// that need the other outcome skip and say why.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/backend/backend.h"
#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/core/error.h"
#include "tests/unit/test_paths.h"

namespace moe {
namespace {

TEST(CudaSelection, CudaIsAKnownBackendName) {
  const std::vector<std::string> names = backend_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "cuda"), names.end());
  BackendOptions o;
  o.name = "gpu";
  try {
    make_backend(o);
    FAIL() << "an unknown backend name was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
  }
}

TEST(CudaSelection, BuildReportsWhetherTheBackendIsCompiledIn) {
#if MOE_HAVE_CUDA
  EXPECT_TRUE(cuda_built());
#else
  EXPECT_FALSE(cuda_built());
  std::string why;
  EXPECT_EQ(cuda_device_count(&why), 0);
  EXPECT_NE(why.find("no CUDA"), std::string::npos) << why;
#endif
}

TEST(CudaSelection, WithoutAGpuMakeBackendSaysWhy) {
  std::string why;
  if (cuda_device_count(&why) > 0) GTEST_SKIP() << "a GPU is present: the backend is available";
  EXPECT_FALSE(why.empty());
  BackendOptions o;
  o.name = "cuda";
  try {
    make_backend(o);
    FAIL() << "make_backend(cuda) succeeded without a GPU";
  } catch (const InputError& e) {
    FAIL() << "a missing GPU is not bad input: " << e.what();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "CUDA backend not available: " + why);
  }
}

TEST(CudaSelection, WithAGpuMakeBackendGivesTheCudaBackend) {
  std::string why;
  if (cuda_device_count(&why) == 0)
    GTEST_SKIP() << "no usable GPU here, so the CUDA backend is compiled but not run: " << why;
  BackendOptions o;
  o.name = "cuda";
  const std::shared_ptr<Backend> be = make_backend(o);
  EXPECT_EQ(be->name(), "cuda");
  EXPECT_EQ(be->device(), Device::CUDA);
  const Tensor h = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor d = be->from_host(h);
  EXPECT_EQ(d.device(), Device::CUDA);
  const Tensor back = be->to_host(d);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(back.data<float>()[i], h.data<float>()[i]);
}

TEST(CudaSelection, CliWithoutAGpuPrintsOneLineAndFails) {
  std::string why;
  if (cuda_device_count(&why) > 0) GTEST_SKIP() << "a GPU is present: the backend is available";
  namespace fs = std::filesystem;
  const fs::path dir = test::source_dir() / "tests/golden/qwen3_moe_f32";
  const fs::path tmp = fs::temp_directory_path() / ("moe_cuda_cli_" + std::to_string(getpid()));
  fs::create_directories(tmp);
  std::ofstream(tmp / "prompts.jsonl") << "{\"ids\": [1, 2, 3]}\n";
  const std::string cmd = test::cli_path() + " trace " + dir.string() + " --prompts " +
                          (tmp / "prompts.jsonl").string() + " --out " +
                          (tmp / "got.h5").string() + " --backend cuda 2>&1";
  std::string log;
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) log.append(buf, n);
  const int status = pclose(p);
  const bool wrote = fs::exists(tmp / "got.h5");
  fs::remove_all(tmp);
  EXPECT_NE(status, 0) << log;
  EXPECT_NE(log.find("CUDA backend not available: " + why), std::string::npos) << log;
  EXPECT_FALSE(wrote) << "no result file may be written";
}

}  // namespace
}  // namespace moe
