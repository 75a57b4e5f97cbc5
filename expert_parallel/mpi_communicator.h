// MpiCommunicator: a Communicator over a private duplicate of an MPI communicator (host memory).
//
// MpiComm is the RAII owner of one MPI_Comm (freed with MPI_Comm_free unless it is a predefined
// communicator). MpiCommunicator::dup(comm) duplicates `comm`, so the expert-parallel
// collectives never match messages of the caller (executors) on the same ranks. Every MPI call
// goes through MPI_CHECK, which turns a failure into a moe::Error naming the call, file:line and
// MPI's error string (the communicators are set to MPI_ERRORS_RETURN). When every rank of the
// communicator runs on one node, allocate_shared() maps memory all of them reach directly.
// MpiSession initialises MPI (MPI_Init_thread, MPI_THREAD_MULTIPLE requested) for the lifetime
// of the object unless something else did already, and finalises what it initialised.
// Thread-safety: see Communicator; MpiSession is created once, on the main thread.
#pragma once

#include <mpi.h>

#include <memory>

#include "expert_parallel/communicator.h"

namespace moe::ep {

[[noreturn]] void throw_mpi(const char* call, const char* file, int line, int code);

#define MPI_CHECK(call)                                                                   \
  do {                                                                                    \
    const int mpi_rc_ = (call);                                                           \
    if (mpi_rc_ != MPI_SUCCESS) ::moe::ep::throw_mpi(#call, __FILE__, __LINE__, mpi_rc_); \
  } while (0)

class MpiSession {
 public:
  MpiSession();
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int thread_level() const { return provided_; }  // MPI_THREAD_* granted by the library
  bool initialised_here() const { return owns_; }

 private:
  bool owns_ = false;
  int provided_ = MPI_THREAD_SINGLE;
};

// Owns one MPI_Comm. Predefined communicators (MPI_COMM_WORLD, MPI_COMM_SELF) are never freed.
class MpiComm {
 public:
  MpiComm() = default;
  explicit MpiComm(MPI_Comm c) : comm_(c) {}
  ~MpiComm();
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;
  MpiComm(MpiComm&& o) noexcept : comm_(o.comm_) { o.comm_ = MPI_COMM_NULL; }
  MpiComm& operator=(MpiComm&& o) noexcept;
  MPI_Comm get() const { return comm_; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

class MpiCommunicator final : public Communicator {
 public:
  // A communicator over a duplicate of `comm` (collective over `comm`).
  static std::unique_ptr<MpiCommunicator> dup(MPI_Comm comm);
  // Over a duplicate of MPI_COMM_WORLD.
  static std::unique_ptr<MpiCommunicator> world() { return dup(MPI_COMM_WORLD); }

  MPI_Comm handle() const { return comm_.get(); }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Device device() const override { return Device::CPU; }
  std::string name() const override { return "mpi"; }
  void alltoallv(const void* send, std::span<const int64_t> send_counts,
                 std::span<const int64_t> send_displs, void* recv,
                 std::span<const int64_t> recv_counts, std::span<const int64_t> recv_displs,
                 size_t elem_bytes) override;
  void alltoall(const void* send, void* recv, size_t block_bytes) override;
  void allgather(const void* send, void* recv, size_t block_bytes) override;
  void allreduce(void* data, int64_t count, DType type, ReduceOp op) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key) const override;
  // True when MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) keeps the whole group together.
  bool can_share_memory() const override { return one_node_; }
  // map_node_shared_memory() over this communicator; null when the ranks span nodes.
  std::unique_ptr<SharedMemory> allocate_shared(size_t bytes_per_rank) override;
  [[noreturn]] void abort(const std::string& why) override;

 private:
  explicit MpiCommunicator(MpiComm comm);  // collective (asks which ranks share a node)
  MpiComm comm_;
  int rank_ = 0, size_ = 1;
  bool one_node_ = false;
};

}  // namespace moe::ep
