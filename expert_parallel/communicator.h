// Communicator: the collective operations among the ranks of one group (a replica, the world)
// that expert parallelism needs: all-to-all with per-peer sizes, all-to-all and all-gather of
// fixed-size blocks, all-reduce, broadcast, barrier; and, where the ranks share a node, memory
// that every rank maps (SharedMemory).
//
// Implementations:
//   LocalCommunicator  one rank (size 1): every collective is a copy or nothing. Host memory.
//   MpiCommunicator    a duplicate of an MPI communicator (mpi_communicator.h). Host memory.
//   NCCL               make_nccl_communicator() (nccl_communicator.h): device memory, grouped
//                      ncclSend/ncclRecv on a CUDA stream; bootstrapped over a host communicator.
// Buffers live where device() says: the host for Local and MPI, the GPU for NCCL. Every call is
// a collective: all ranks of the group call it in the same order with consistent sizes (counts
// of a pair of peers must agree). Calls block until this rank's part is complete and its
// buffers may be reused.
// Ownership: a communicator owns its underlying handle (MPI_Comm, ncclComm_t, stream) and frees
// it on destruction; communicators are not copyable.
// Thread-safety: one thread at a time per communicator; different communicators may be used
// from different threads (MPI with MPI_THREAD_MULTIPLE).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/core/dtype.h"
#include "runtime/core/tensor.h"

namespace moe::ep {

enum class ReduceOp { kSum, kMax, kMin };

// Host memory that every rank of a group maps (Communicator::allocate_shared): bytes_per_rank()
// bytes per rank, laid out in rank order, rank r's part at data() + r * bytes_per_rank(), so one
// pointer reaches every rank's part and any rank may read or write any part. The mapping does
// not order accesses between ranks: a collective of the group does, with fence() called after
// the writes it publishes and again before the reads it allows.
// Ownership: unmaps on destruction, which needs no peer (any rank may go first).
class SharedMemory {
 public:
  SharedMemory() = default;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  virtual ~SharedMemory() = default;
  virtual std::byte* data() = 0;
  virtual size_t bytes_per_rank() const = 0;
  virtual void fence() = 0;
};

class Communicator {
 public:
  Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual Device device() const = 0;     // where the data buffers of every call live
  virtual std::string name() const = 0;  // "local", "mpi", "nccl"

  // All-to-all with per-peer sizes, in elements of elem_bytes bytes each: this rank sends
  // send_counts[p] elements starting at element send_displs[p] of `send` to peer p, and
  // receives recv_counts[p] elements from peer p at element recv_displs[p] of `recv`.
  // send_counts, send_displs, recv_counts, recv_displs: [size] each (host). Counts of a pair
  // must agree (what p sends to q is what q expects from p). Send and receive must not overlap.
  virtual void alltoallv(const void* send, std::span<const int64_t> send_counts,
                         std::span<const int64_t> send_displs, void* recv,
                         std::span<const int64_t> recv_counts, std::span<const int64_t> recv_displs,
                         size_t elem_bytes) = 0;
  // Fixed-size all-to-all: block p of `send` goes to peer p, block p of `recv` comes from p.
  // send, recv: [size * block_bytes] bytes.
  virtual void alltoall(const void* send, void* recv, size_t block_bytes) = 0;
  // recv block p = peer p's `send`.  send: [block_bytes]; recv: [size * block_bytes]
  virtual void allgather(const void* send, void* recv, size_t block_bytes) = 0;
  // In place: data[i] = op over ranks of data[i].  data: [count] of `type` (I32, I64, F32, F64)
  virtual void allreduce(void* data, int64_t count, DType type, ReduceOp op) = 0;
  // data: [bytes], root's copy replaces everyone's.
  virtual void broadcast(void* data, size_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // MPI_Comm_split semantics: ranks with the same color form a new group ordered by (key, rank).
  // Collective over this group. Host communicators only (NCCL is built from one of those).
  virtual std::unique_ptr<Communicator> split(int color, int key) const = 0;
  // Whether allocate_shared() maps memory: true when every rank of the group runs on one node
  // and the implementation can map memory across processes (MPI), the same on every rank.
  virtual bool can_share_memory() const { return false; }
  // Collective: maps bytes_per_rank bytes per rank (SharedMemory above); null when
  // can_share_memory() is false. Throws (on every rank) when the mapping fails.
  virtual std::unique_ptr<SharedMemory> allocate_shared(size_t /*bytes_per_rank*/) {
    return nullptr;
  }
  // Ends the whole job (every rank of every group) after a failure the peers cannot recover
  // from, e.g. inside an exchange they are blocked in. Logs `why` first.
  [[noreturn]] virtual void abort(const std::string& why) = 0;
};

// One rank, no peers: R = 1, tests, the local executor.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  Device device() const override { return Device::CPU; }
  std::string name() const override { return "local"; }
  void alltoallv(const void* send, std::span<const int64_t> send_counts,
                 std::span<const int64_t> send_displs, void* recv,
                 std::span<const int64_t> recv_counts, std::span<const int64_t> recv_displs,
                 size_t elem_bytes) override;
  void alltoall(const void* send, void* recv, size_t block_bytes) override;
  void allgather(const void* send, void* recv, size_t block_bytes) override;
  void allreduce(void*, int64_t, DType, ReduceOp) override {}
  void broadcast(void*, size_t, int root) override;
  void barrier() override {}
  std::unique_ptr<Communicator> split(int color, int key) const override;
  [[noreturn]] void abort(const std::string& why) override;
};

// POSIX shared memory for the ranks of `c`, which must all run on one node (collective): rank 0
// creates an object in /dev/shm (shm_open), reserves its pages (posix_fallocate, so a full
// /dev/shm is an error here rather than a SIGBUS later) and sends its name; every rank maps it;
// rank 0 removes the name once all have mapped it, so nothing is left behind when the processes
// end, however they end. Throws on every rank, naming the failing rank and call, on failure.
std::unique_ptr<SharedMemory> map_node_shared_memory(Communicator& c, size_t bytes_per_rank);

// Element size of a reduction type; asserts the type is one allreduce supports.
size_t reduce_type_bytes(DType type);

// Typed convenience wrappers.
inline void allreduce_sum(Communicator& c, std::span<int64_t> v) {
  c.allreduce(v.data(), int64_t(v.size()), DType::I64, ReduceOp::kSum);
}
inline void allreduce_sum(Communicator& c, std::span<double> v) {
  c.allreduce(v.data(), int64_t(v.size()), DType::F64, ReduceOp::kSum);
}
inline int64_t allreduce_max(Communicator& c, int64_t v) {
  c.allreduce(&v, 1, DType::I64, ReduceOp::kMax);
  return v;
}
// Every rank's `mine` (bytes of any length, e.g. a serialised result; over 2 GiB too, since they
// travel in 4 KiB blocks), in rank order. Host communicators only. Collective.
std::vector<std::string> allgather_strings(Communicator& c, const std::string& mine);
// The same delivered to `root` only; the other ranks get an empty vector. Collective.
std::vector<std::string> gather_strings(Communicator& c, const std::string& mine, int root);

}  // namespace moe::ep
