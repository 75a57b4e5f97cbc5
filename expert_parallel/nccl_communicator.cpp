#include "expert_parallel/nccl_communicator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/core/error.h"

#if MOE_HAVE_NCCL
#include "runtime/backend/cuda/cuda_check.h"
#endif

namespace moe::ep {

#if MOE_HAVE_NCCL

namespace {

// RAII owners of the NCCL and CUDA handles.
class NcclComm {
 public:
  explicit NcclComm(ncclComm_t c) : c_(c) {}
  ~NcclComm() {
    if (c_) ncclCommDestroy(c_);
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ncclComm_t get() const { return c_; }
  // For abort: the handle is gone afterwards.
  ncclComm_t release() {
    ncclComm_t c = c_;
    c_ = nullptr;
    return c;
  }

 private:
  ncclComm_t c_ = nullptr;
};

class CudaStream {
 public:
  // Wraps `external` (not owned) or creates a stream of its own.
  explicit CudaStream(cudaStream_t external) : s_(external), owned_(external == nullptr) {
    if (owned_) CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking));
  }
  ~CudaStream() {
    if (owned_ && s_) cudaStreamDestroy(s_);
  }
  CudaStream(const CudaStream&) = delete;
  CudaStream& operator=(const CudaStream&) = delete;
  cudaStream_t get() const { return s_; }
  bool owned() const { return owned_; }

 private:
  cudaStream_t s_ = nullptr;
  bool owned_ = false;
};

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) { CUDA_CHECK(cudaMalloc(&p_, bytes)); }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }

 private:
  void* p_ = nullptr;
};

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::I32:
      return ncclInt32;
    case DType::I64:
      return ncclInt64;
    case DType::F32:
      return ncclFloat32;
    case DType::F64:
      return ncclFloat64;
    default:
      MOE_ASSERT(false, "allreduce does not support {}", dtype_name(t));
  }
  return ncclInt8;
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  return ncclSum;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int device, cudaStream_t stream)
      : comm_(comm), device_(device), stream_(stream), scratch_(sizeof(int32_t)) {
    NCCL_CHECK(ncclCommUserRank(comm_.get(), &rank_));
    NCCL_CHECK(ncclCommCount(comm_.get(), &size_));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Device device() const override { return Device::CUDA; }
  std::string name() const override { return "nccl"; }

  void alltoallv(const void* send, std::span<const int64_t> send_counts,
                 std::span<const int64_t> send_displs, void* recv,
                 std::span<const int64_t> recv_counts, std::span<const int64_t> recv_displs,
                 size_t elem_bytes) override {
    const size_t n = size_t(size_);
    MOE_ASSERT(send_counts.size() == n && send_displs.size() == n && recv_counts.size() == n &&
                   recv_displs.size() == n,
               "alltoallv needs {} counts and displacements per side", n);
    begin();
    const char* s = static_cast<const char*>(send);
    char* r = static_cast<char*>(recv);
    NCCL_CHECK(ncclGroupStart());
    for (size_t p = 0; p < n; ++p) {
      if (send_counts[p] > 0)
        NCCL_CHECK(ncclSend(s + send_displs[p] * int64_t(elem_bytes),
                            size_t(send_counts[p]) * elem_bytes, ncclUint8, int(p), comm_.get(),
                            stream_.get()));
      if (recv_counts[p] > 0)
        NCCL_CHECK(ncclRecv(r + recv_displs[p] * int64_t(elem_bytes),
                            size_t(recv_counts[p]) * elem_bytes, ncclUint8, int(p), comm_.get(),
                            stream_.get()));
    }
    NCCL_CHECK(ncclGroupEnd());
    finish();
  }

  void alltoall(const void* send, void* recv, size_t block_bytes) override {
    const std::vector<int64_t> counts(static_cast<size_t>(size_), int64_t(block_bytes));
    std::vector<int64_t> displs(static_cast<size_t>(size_));
    for (int p = 0; p < size_; ++p) displs[size_t(p)] = int64_t(p) * int64_t(block_bytes);
    alltoallv(send, counts, displs, recv, counts, displs, 1);
  }

  void allgather(const void* send, void* recv, size_t block_bytes) override {
    begin();
    NCCL_CHECK(ncclAllGather(send, recv, block_bytes, ncclUint8, comm_.get(), stream_.get()));
    finish();
  }

  void allreduce(void* data, int64_t count, DType type, ReduceOp op) override {
    if (count == 0) return;
    begin();
    NCCL_CHECK(ncclAllReduce(data, data, size_t(count), nccl_type(type), nccl_op(op), comm_.get(),
                             stream_.get()));
    finish();
  }

  void broadcast(void* data, size_t bytes, int root) override {
    begin();
    NCCL_CHECK(ncclBroadcast(data, data, bytes, ncclUint8, root, comm_.get(), stream_.get()));
    finish();
  }

  void barrier() override { allreduce(scratch_.get(), 1, DType::I32, ReduceOp::kSum); }

  std::unique_ptr<Communicator> split(int color, int key) const override {
    ncclComm_t c = nullptr;
    NCCL_CHECK(
        ncclCommSplit(comm_.get(), color < 0 ? NCCL_SPLIT_NOCOLOR : color, key, &c, nullptr));
    MOE_ASSERT(c, "ncclCommSplit gave no communicator for color {}", color);
    return std::make_unique<NcclCommunicator>(c, device_,
                                              stream_.owned() ? nullptr : stream_.get());
  }

  [[noreturn]] void abort(const std::string& why) override {
    spdlog::critical("NCCL rank {} of {}: aborting: {}", rank_, size_, why);
    ncclCommAbort(comm_.release());
    std::abort();
  }

 private:
  void begin() {
    if (device_ >= 0) CUDA_CHECK(cudaSetDevice(device_));
    // Without the backend's stream, make sure every kernel that wrote our buffers is done.
    if (stream_.owned()) CUDA_CHECK(cudaDeviceSynchronize());
  }
  void finish() { CUDA_CHECK(cudaStreamSynchronize(stream_.get())); }

  NcclComm comm_;
  int device_ = -1;
  CudaStream stream_;
  DeviceBuffer scratch_;  // [1] i32 for barrier()
  int rank_ = 0, size_ = 1;
};

}  // namespace

bool nccl_built() {
  return true;
}

std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int cuda_device,
                                                     void* stream) {
  std::string why;
  if (cuda_device_count(&why) == 0)
    throw Error(fmt::format("the NCCL communicator needs a GPU: {}", why));
  if (cuda_device >= 0) CUDA_CHECK(cudaSetDevice(cuda_device));
  int device = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  ncclUniqueId id{};
  if (bootstrap.rank() == 0) NCCL_CHECK(ncclGetUniqueId(&id));
  bootstrap.broadcast(&id, sizeof(id), 0);
  ncclComm_t comm = nullptr;
  NCCL_CHECK(ncclCommInitRank(&comm, bootstrap.size(), id, bootstrap.rank()));
  return std::make_unique<NcclCommunicator>(comm, device, static_cast<cudaStream_t>(stream));
}

#else  // no NCCL in this build

bool nccl_built() {
  return false;
}

std::unique_ptr<Communicator> make_nccl_communicator(Communicator&, int, void*) {
  throw Error(
      "the NCCL communicator is not in this build (configure with the CUDA toolkit and "
      "NCCL installed)");
}

#endif

int cuda_device_count(std::string* why) { return moe::cuda_device_count(why); }

}  // namespace moe::ep
