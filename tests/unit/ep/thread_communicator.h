// TEST DOUBLE: ThreadCommunicator, a Communicator whose ranks are threads of one process.
//
// Lets unit tests (and the sanitizer build) run R ranks of a replica without mpirun: the
// collectives publish their buffers in shared slots, meet at a barrier, copy, and meet again
// before returning (so a sender's buffers stay valid until everyone has read them). Semantics
// follow communicator.h; split() and allocate_shared() are supported. abort() ends the
// process (as MPI_Abort would). run_ranks(R, fn) starts R threads, calls fn(comm) on each and
// rethrows the first exception; run_ranks(R, fn, limit) also plays a /dev/shm of `limit` bytes:
// allocate_shared() of more fails on every rank as a full /dev/shm makes the product's fail.
// Thread-safety: one thread per rank, as for MPI ranks.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <barrier>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "expert_parallel/communicator.h"
#include "runtime/core/error.h"

namespace moe::ep::testing {

class ThreadCommunicator final : public Communicator {
 public:
  // The state shared by the ranks of one group.
  struct Group {
    explicit Group(int n) : size(n), sync(n), slots(size_t(n)) {}
    struct Slot {
      const void* send = nullptr;
      void* recv = nullptr;
      std::span<const int64_t> send_counts, send_displs;
      size_t bytes = 0;
      int color = 0, key = 0;
    };
    int size;
    std::barrier<> sync;
    std::vector<Slot> slots;
    std::mutex mu;
    std::map<int, std::shared_ptr<Group>> children;  // split(): color -> new group
    size_t shared_limit = SIZE_MAX;                  // bytes allocate_shared() may map in all
  };

  ThreadCommunicator(std::shared_ptr<Group> g, int rank) : g_(std::move(g)), rank_(rank) {}

  int rank() const override { return rank_; }
  int size() const override { return g_->size; }
  Device device() const override { return Device::CPU; }
  std::string name() const override { return "threads (test double)"; }

  void alltoallv(const void* send, std::span<const int64_t> send_counts,
                 std::span<const int64_t> send_displs, void* recv,
                 std::span<const int64_t> recv_counts, std::span<const int64_t> recv_displs,
                 size_t elem_bytes) override {
    auto& me = g_->slots[size_t(rank_)];
    me.send = send;
    me.send_counts = send_counts;
    me.send_displs = send_displs;
    g_->sync.arrive_and_wait();
    for (int p = 0; p < g_->size; ++p) {
      const auto& peer = g_->slots[size_t(p)];
      const int64_t n = peer.send_counts[size_t(rank_)];
      MOE_ASSERT(n == recv_counts[size_t(p)],
                 "rank {} sends {} elements to rank {}, which expects {}", p, n, rank_,
                 recv_counts[size_t(p)]);
      if (n > 0)
        std::memcpy(static_cast<char*>(recv) + recv_displs[size_t(p)] * int64_t(elem_bytes),
                    static_cast<const char*>(peer.send) +
                        peer.send_displs[size_t(rank_)] * int64_t(elem_bytes),
                    size_t(n) * elem_bytes);
    }
    g_->sync.arrive_and_wait();
  }

  void alltoall(const void* send, void* recv, size_t block_bytes) override {
    publish(send, block_bytes);
    for (int p = 0; p < g_->size; ++p)
      std::memcpy(static_cast<char*>(recv) + size_t(p) * block_bytes,
                  static_cast<const char*>(g_->slots[size_t(p)].send) + size_t(rank_) * block_bytes,
                  block_bytes);
    g_->sync.arrive_and_wait();
  }

  void allgather(const void* send, void* recv, size_t block_bytes) override {
    publish(send, block_bytes);
    for (int p = 0; p < g_->size; ++p)
      std::memcpy(static_cast<char*>(recv) + size_t(p) * block_bytes, g_->slots[size_t(p)].send,
                  block_bytes);
    g_->sync.arrive_and_wait();
  }

  void allreduce(void* data, int64_t count, DType type, ReduceOp op) override {
    const size_t eb = reduce_type_bytes(type);
    publish(data, size_t(count) * eb);
    std::vector<char> acc(size_t(count) * eb);
    std::memcpy(acc.data(), g_->slots[0].send, acc.size());
    for (int p = 1; p < g_->size; ++p)
      for (int64_t i = 0; i < count; ++i) {
        const char* src = static_cast<const char*>(g_->slots[size_t(p)].send) + size_t(i) * eb;
        char* dst = acc.data() + size_t(i) * eb;
        switch (type) {
          case DType::I32:
            combine<int32_t>(dst, src, op);
            break;
          case DType::I64:
            combine<int64_t>(dst, src, op);
            break;
          case DType::F32:
            combine<float>(dst, src, op);
            break;
          default:
            combine<double>(dst, src, op);
            break;
        }
      }
    g_->sync.arrive_and_wait();  // everyone has read every input
    std::memcpy(data, acc.data(), acc.size());
  }

  void broadcast(void* data, size_t bytes, int root) override {
    publish(data, bytes);
    if (rank_ != root) std::memcpy(data, g_->slots[size_t(root)].send, bytes);
    g_->sync.arrive_and_wait();
  }

  void barrier() override { g_->sync.arrive_and_wait(); }

  std::unique_ptr<Communicator> split(int color, int key) const override {
    auto& me = g_->slots[size_t(rank_)];
    me.color = color;
    me.key = key;
    g_->sync.arrive_and_wait();
    std::vector<std::pair<std::pair<int, int>, int>> members;  // ((key, rank), rank)
    for (int p = 0; p < g_->size; ++p)
      if (g_->slots[size_t(p)].color == color)
        members.push_back({{g_->slots[size_t(p)].key, p}, p});
    std::sort(members.begin(), members.end());
    int new_rank = 0;
    for (size_t i = 0; i < members.size(); ++i)
      if (members[i].second == rank_) new_rank = int(i);
    std::shared_ptr<Group> child;
    {
      std::lock_guard lock(g_->mu);
      auto& c = g_->children[color];
      if (!c) c = std::make_shared<Group>(int(members.size()));
      child = c;
    }
    g_->sync.arrive_and_wait();
    if (rank_ == 0) g_->children.clear();  // everyone holds its child now
    g_->sync.arrive_and_wait();
    return std::make_unique<ThreadCommunicator>(child, new_rank);
  }

  // The threads run on one node: the product's POSIX shared memory, set up over this group.
  bool can_share_memory() const override { return true; }
  std::unique_ptr<SharedMemory> allocate_shared(size_t bytes_per_rank) override {
    if (bytes_per_rank * size_t(g_->size) > g_->shared_limit)
      throw Error(
          fmt::format("posix_fallocate of {} bytes failed: No space left on device "
                      "(test double: /dev/shm of {} bytes)",
                      bytes_per_rank * size_t(g_->size), g_->shared_limit));
    return map_node_shared_memory(*this, bytes_per_rank);
  }

  [[noreturn]] void abort(const std::string& why) override {
    std::fprintf(stderr, "ThreadCommunicator abort on rank %d: %s\n", rank_, why.c_str());
    std::abort();
  }

 private:
  void publish(const void* p, size_t bytes) {
    g_->slots[size_t(rank_)].send = p;
    g_->slots[size_t(rank_)].bytes = bytes;
    g_->sync.arrive_and_wait();
  }
  template <typename T>
  static void combine(char* dst, const char* src, ReduceOp op) {
    T a, b;
    std::memcpy(&a, dst, sizeof(T));
    std::memcpy(&b, src, sizeof(T));
    const T r = op == ReduceOp::kSum   ? a + b
                : op == ReduceOp::kMax ? std::max(a, b)
                                       : std::min(a, b);
    std::memcpy(dst, &r, sizeof(T));
  }

  std::shared_ptr<Group> g_;
  int rank_;
};

// Runs fn(rank's communicator) on `ranks` threads; rethrows the first exception (by rank).
// A rank that throws while others wait in a collective would deadlock them, so tests keep
// throwing code out of collectives (Replica::run propagates errors collectively).
inline void run_ranks(int ranks, const std::function<void(std::shared_ptr<Communicator>)>& fn,
                      size_t shared_limit = SIZE_MAX) {
  auto group = std::make_shared<ThreadCommunicator::Group>(ranks);
  group->shared_limit = shared_limit;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        fn(std::make_shared<ThreadCommunicator>(group, r));
      } catch (...) {
        errors[size_t(r)] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace moe::ep::testing
