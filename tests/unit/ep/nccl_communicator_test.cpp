// The NCCL communicator on this process's GPU (a group of one over LocalCommunicator): device
// all-to-all-v, all-reduce, broadcast, barrier and split. Skipped, saying why, where the build
// has no NCCL or the machine no GPU (the multi-rank NCCL test is tests/integration/ep).
#include <gtest/gtest.h>

#include <vector>

#include "expert_parallel/nccl_communicator.h"

#if MOE_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace moe::ep {
namespace {

TEST(NcclCommunicator, DeviceCollectivesOfOneRank) {
  std::string why;
  if (!nccl_built()) GTEST_SKIP() << "this build has no NCCL (CUDA toolkit not found)";
  if (cuda_device_count(&why) == 0)
    GTEST_SKIP() << "no GPU here, NCCL compiled but not run: " << why;
#if MOE_HAVE_CUDA
  LocalCommunicator boot;
  auto nccl = make_nccl_communicator(boot, 0);
  EXPECT_EQ(nccl->name(), "nccl");
  EXPECT_EQ(nccl->size(), 1);
  EXPECT_EQ(nccl->device(), Device::CUDA);
  const std::vector<float> host{1, 2, 3, 4, 5, 6};
  float *d_send = nullptr, *d_recv = nullptr;
  ASSERT_EQ(cudaMalloc(&d_send, 6 * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_recv, 6 * sizeof(float)), cudaSuccess);
  cudaMemcpy(d_send, host.data(), 6 * sizeof(float), cudaMemcpyHostToDevice);
  std::vector<float> back(6);
  // Elements of 2 floats: element 1 of send (3, 4) lands at element 2 of recv.
  cudaMemset(d_recv, 0, 6 * sizeof(float));
  const int64_t counts[] = {1}, sd[] = {1}, rd[] = {2};
  nccl->alltoallv(d_send, counts, sd, d_recv, counts, rd, 2 * sizeof(float));
  cudaMemcpy(back.data(), d_recv, 6 * sizeof(float), cudaMemcpyDeviceToHost);
  EXPECT_EQ(back, (std::vector<float>{0, 0, 0, 0, 3, 4}));
  nccl->allreduce(d_send, 6, DType::F32, ReduceOp::kSum);
  nccl->broadcast(d_send, 6 * sizeof(float), 0);
  nccl->barrier();
  cudaMemcpy(back.data(), d_send, 6 * sizeof(float), cudaMemcpyDeviceToHost);
  EXPECT_EQ(back, host);
  EXPECT_EQ(nccl->split(0, 0)->size(), 1);
  cudaFree(d_send);
  cudaFree(d_recv);
#endif
}

}  // namespace
}  // namespace moe::ep
