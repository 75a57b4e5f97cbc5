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

std::vector<std::string> allgather_strings(Communicator& c, const std::string& mine) {
  MOE_ASSERT(c.device() == Device::CPU, "allgather_strings needs a host communicator");
  const size_t R = size_t(c.size());
  const int64_t n = int64_t(mine.size());
  std::vector<int64_t> sizes(R);
  c.allgather(&n, sizes.data(), sizeof(n));
  // Each peer gets its own copy of `mine` (send regions of one call do not overlap).
  std::string send;
  send.reserve(R * mine.size());
  for (size_t p = 0; p < R; ++p) send += mine;
  std::vector<int64_t> sc(R, n), sd(R), rd(R);
  int64_t total = 0;
  for (size_t p = 0; p < R; ++p) {
    sd[p] = int64_t(p) * n;
    rd[p] = total;
    total += sizes[p];
  }
  std::string recv(size_t(total), '\0');
  c.alltoallv(send.data(), sc, sd, recv.data(), sizes, rd, 1);
  std::vector<std::string> out(R);
  for (size_t p = 0; p < R; ++p) out[p] = recv.substr(size_t(rd[p]), size_t(sizes[p]));
  return out;
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
