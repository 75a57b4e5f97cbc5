#include "expert_parallel/communicator.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <cstring>

#include "runtime/core/error.h"

namespace moe::ep {

size_t reduce_type_bytes(DType type) {
  switch (type) {
    case DType::I32:
    case DType::F32:
      return 4;
    case DType::I64:
    case DType::F64:
      return 8;
    default:
      MOE_ASSERT(false, "allreduce does not support {}", dtype_name(type));
  }
  return 0;
}

void LocalCommunicator::alltoallv(const void* send, std::span<const int64_t> send_counts,
                                  std::span<const int64_t> send_displs, void* recv,
                                  std::span<const int64_t> recv_counts,
                                  std::span<const int64_t> recv_displs, size_t elem_bytes) {
  MOE_ASSERT(send_counts.size() == 1 && recv_counts.size() == 1 && send_displs.size() == 1 &&
                 recv_displs.size() == 1,
             "local alltoallv takes one count per side");
  MOE_ASSERT(send_counts[0] == recv_counts[0], "local alltoallv sends {} and receives {}",
             send_counts[0], recv_counts[0]);
  if (send_counts[0] == 0) return;
  std::memcpy(static_cast<char*>(recv) + recv_displs[0] * int64_t(elem_bytes),
              static_cast<const char*>(send) + send_displs[0] * int64_t(elem_bytes),
              size_t(send_counts[0]) * elem_bytes);
}

void LocalCommunicator::alltoall(const void* send, void* recv, size_t block_bytes) {
  if (block_bytes) std::memcpy(recv, send, block_bytes);
}

void LocalCommunicator::allgather(const void* send, void* recv, size_t block_bytes) {
  if (block_bytes) std::memcpy(recv, send, block_bytes);
}

void LocalCommunicator::broadcast(void*, size_t, int root) {
  MOE_ASSERT(root == 0, "broadcast root {} in a group of one", root);
}

std::unique_ptr<Communicator> LocalCommunicator::split(int, int) const {
  return std::make_unique<LocalCommunicator>();
}

void LocalCommunicator::abort(const std::string& why) {
  spdlog::critical("aborting: {}", why);
  std::abort();
}

}  // namespace moe::ep
