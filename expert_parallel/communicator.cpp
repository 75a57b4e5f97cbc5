#include "expert_parallel/communicator.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
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

namespace {

class PosixSharedMemory final : public SharedMemory {
 public:
  PosixSharedMemory(std::byte* base, size_t bytes_per_rank, size_t total)
      : base_(base), bytes_(bytes_per_rank), total_(total) {}
  ~PosixSharedMemory() override { munmap(base_, total_); }
  std::byte* data() override { return base_; }
  size_t bytes_per_rank() const override { return bytes_; }
  void fence() override { std::atomic_thread_fence(std::memory_order_seq_cst); }

 private:
  std::byte* base_;
  size_t bytes_, total_;
};

// Owns a file descriptor.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Every rank's error text (empty: none); throws on every rank when any rank failed.
void agree(Communicator& c, const std::string& mine) {
  const std::vector<std::string> all = allgather_strings(c, mine);
  for (size_t r = 0; r < all.size(); ++r)
    if (!all[r].empty())
      throw Error(fmt::format("shared memory for {} ranks, rank {}: {}", all.size(), r, all[r]));
}

std::string errno_text(const char* call, const std::string& name, int err) {
  return fmt::format("{}({}) failed: {}", call, name, std::strerror(err));
}

}  // namespace

std::unique_ptr<SharedMemory> map_node_shared_memory(Communicator& c, size_t bytes_per_rank) {
  MOE_ASSERT(c.device() == Device::CPU, "shared memory needs a host communicator");
  const size_t total = std::max<size_t>(bytes_per_rank * size_t(c.size()), 1);
  static std::atomic<int> counter{0};
  char name[64] = {};
  std::string error;
  Fd fd;
  if (c.rank() == 0) {
    std::snprintf(name, sizeof(name), "/moe-sweep-%d-%d", int(getpid()), counter++);
    fd.fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd.fd < 0) {
      error = errno_text("shm_open", name, errno);
    } else if (ftruncate(fd.fd, off_t(total)) != 0) {
      error = errno_text("ftruncate", name, errno);
    } else if (const int err = posix_fallocate(fd.fd, 0, off_t(total)); err != 0) {
      error = fmt::format(
          "{} (needs {:.1f} MiB of /dev/shm; set MOE_EP_TRANSPORT=exchange "
          "or enlarge /dev/shm)",
          errno_text("posix_fallocate", name, err), double(total) / (1 << 20));
    }
    if (!error.empty() && fd.fd >= 0) shm_unlink(name);
  }
  agree(c, error);
  c.broadcast(name, sizeof(name), 0);
  if (c.rank() != 0) {
    fd.fd = shm_open(name, O_RDWR, 0600);
    if (fd.fd < 0) error = errno_text("shm_open", name, errno);
  }
  void* base = MAP_FAILED;
  if (error.empty()) {
    base = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd.fd, 0);
    if (base == MAP_FAILED) error = errno_text("mmap", name, errno);
  }
  try {
    agree(c, error);  // every rank has mapped it (or failed) past this point
  } catch (...) {
    if (base != MAP_FAILED) munmap(base, total);
    if (c.rank() == 0) shm_unlink(name);
    throw;
  }
  if (c.rank() == 0) shm_unlink(name);
  return std::make_unique<PosixSharedMemory>(static_cast<std::byte*>(base), bytes_per_rank, total);
}

namespace {
// Strings travel in blocks of this many bytes (the last one zero-padded): the communicators
// count elements in int, so blocks rather than bytes let one rank's string exceed 2 GiB (up to
// 8 TiB) at a cost of less than one block per message.
constexpr int64_t kStringBlock = 4096;

int64_t blocks_of(int64_t bytes) { return (bytes + kStringBlock - 1) / kStringBlock; }

// Every rank's `mine` in rank order, delivered to `root` only (root >= 0; the others get an
// empty vector) or to every rank (root < 0).
std::vector<std::string> collect_strings(Communicator& c, const std::string& mine, int root) {
  MOE_ASSERT(c.device() == Device::CPU, "collecting strings needs a host communicator");
  const size_t R = size_t(c.size());
  const int64_t n = int64_t(mine.size());
  std::vector<int64_t> sizes(R);
  c.allgather(&n, sizes.data(), sizeof(n));
  auto receives = [&](size_t p) { return root < 0 || int(p) == root; };
  // One padded copy of `mine` per receiver (send regions of one call do not overlap); counts
  // and displacements in blocks.
  const int64_t nb = blocks_of(n);
  std::string send;
  std::vector<int64_t> sc(R, 0), sd(R, 0), rc(R, 0), rd(R, 0);
  for (size_t p = 0; p < R; ++p)
    if (receives(p)) {
      sd[p] = int64_t(send.size()) / kStringBlock;
      sc[p] = nb;
      send += mine;
      send.resize(size_t((sd[p] + nb) * kStringBlock), '\0');
    }
  int64_t total = 0;
  if (receives(size_t(c.rank())))
    for (size_t p = 0; p < R; ++p) {
      rd[p] = total;
      rc[p] = blocks_of(sizes[p]);
      total += rc[p];
    }
  std::string recv(size_t(total * kStringBlock), '\0');
  c.alltoallv(send.data(), sc, sd, recv.data(), rc, rd, size_t(kStringBlock));
  if (!receives(size_t(c.rank()))) return {};
  std::vector<std::string> out(R);
  for (size_t p = 0; p < R; ++p)
    out[p] = recv.substr(size_t(rd[p] * kStringBlock), size_t(sizes[p]));
  return out;
}
}  // namespace

std::vector<std::string> allgather_strings(Communicator& c, const std::string& mine) {
  return collect_strings(c, mine, -1);
}

std::vector<std::string> gather_strings(Communicator& c, const std::string& mine, int root) {
  MOE_ASSERT(root >= 0 && root < c.size(), "gather to rank {} of {}", root, c.size());
  return collect_strings(c, mine, root);
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
