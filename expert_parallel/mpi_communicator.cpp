#include "expert_parallel/mpi_communicator.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <climits>
#include <cstdlib>
#include <vector>

#include "runtime/core/error.h"

namespace moe::ep {

void throw_mpi(const char* call, const char* file, int line, int code) {
  char msg[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(code, msg, &len);
  throw Error(fmt::format("MPI error in {} at {}:{}: {}", call, file, line, std::string(msg, len)));
}

MpiSession::MpiSession() {
  int initialised = 0;
  MPI_CHECK(MPI_Initialized(&initialised));
  if (initialised) {
    MPI_CHECK(MPI_Query_thread(&provided_));
    return;
  }
  MPI_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided_));
  owns_ = true;
}

MpiSession::~MpiSession() {
  if (!owns_) return;
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (!finalised) MPI_Finalize();
}

namespace {
bool predefined(MPI_Comm c) {
  return c == MPI_COMM_NULL || c == MPI_COMM_WORLD || c == MPI_COMM_SELF;
}

// MPI counts and displacements are int: check before narrowing.
int narrow(int64_t v, const char* what) {
  MOE_ASSERT(v >= 0 && v <= INT_MAX, "MPI {} {} does not fit an int", what, v);
  return int(v);
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::I32:
      return MPI_INT32_T;
    case DType::I64:
      return MPI_INT64_T;
    case DType::F32:
      return MPI_FLOAT;
    case DType::F64:
      return MPI_DOUBLE;
    default:
      MOE_ASSERT(false, "allreduce does not support {}", dtype_name(t));
  }
  return MPI_DATATYPE_NULL;
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  return MPI_OP_NULL;
}

// A committed contiguous datatype of `bytes` bytes, freed on scope exit.
class ElementType {
 public:
  explicit ElementType(size_t bytes) {
    if (bytes == 1) {
      type_ = MPI_BYTE;
      return;
    }
    MPI_CHECK(MPI_Type_contiguous(narrow(int64_t(bytes), "element size"), MPI_BYTE, &type_));
    MPI_CHECK(MPI_Type_commit(&type_));
    owned_ = true;
  }
  ~ElementType() {
    if (owned_) MPI_Type_free(&type_);
  }
  ElementType(const ElementType&) = delete;
  ElementType& operator=(const ElementType&) = delete;
  MPI_Datatype get() const { return type_; }

 private:
  MPI_Datatype type_ = MPI_BYTE;
  bool owned_ = false;
};
}  // namespace

MpiComm::~MpiComm() {
  if (!predefined(comm_)) {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (!finalised) MPI_Comm_free(&comm_);
  }
}

MpiComm& MpiComm::operator=(MpiComm&& o) noexcept {
  if (this != &o) {
    MpiComm old(comm_);  // frees the current one
    comm_ = o.comm_;
    o.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

MpiCommunicator::MpiCommunicator(MpiComm comm) : comm_(std::move(comm)) {
  MPI_CHECK(MPI_Comm_set_errhandler(comm_.get(), MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(comm_.get(), &rank_));
  MPI_CHECK(MPI_Comm_size(comm_.get(), &size_));
  MPI_Comm node_raw = MPI_COMM_NULL;
  MPI_CHECK(
      MPI_Comm_split_type(comm_.get(), MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_raw));
  const MpiComm node(node_raw);
  int node_size = 0;
  MPI_CHECK(MPI_Comm_size(node.get(), &node_size));
  one_node_ = node_size == size_;  // a rank's node group is the whole group on every rank or none
}

std::unique_ptr<SharedMemory> MpiCommunicator::allocate_shared(size_t bytes_per_rank) {
  if (!one_node_) return nullptr;
  return map_node_shared_memory(*this, bytes_per_rank);
}

std::unique_ptr<MpiCommunicator> MpiCommunicator::dup(MPI_Comm comm) {
  MPI_Comm d = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_dup(comm, &d));
  return std::unique_ptr<MpiCommunicator>(new MpiCommunicator(MpiComm(d)));
}

void MpiCommunicator::alltoallv(const void* send, std::span<const int64_t> send_counts,
                                std::span<const int64_t> send_displs, void* recv,
                                std::span<const int64_t> recv_counts,
                                std::span<const int64_t> recv_displs, size_t elem_bytes) {
  const size_t n = size_t(size_);
  MOE_ASSERT(send_counts.size() == n && send_displs.size() == n && recv_counts.size() == n &&
                 recv_displs.size() == n,
             "alltoallv needs {} counts and displacements per side", n);
  std::vector<int> sc(n), sd(n), rc(n), rd(n);
  for (size_t p = 0; p < n; ++p) {
    sc[p] = narrow(send_counts[p], "send count");
    sd[p] = narrow(send_displs[p], "send displacement");
    rc[p] = narrow(recv_counts[p], "receive count");
    rd[p] = narrow(recv_displs[p], "receive displacement");
  }
  const ElementType type(elem_bytes);
  MPI_CHECK(MPI_Alltoallv(send, sc.data(), sd.data(), type.get(), recv, rc.data(), rd.data(),
                          type.get(), comm_.get()));
}

void MpiCommunicator::alltoall(const void* send, void* recv, size_t block_bytes) {
  const int b = narrow(int64_t(block_bytes), "block size");
  MPI_CHECK(MPI_Alltoall(send, b, MPI_BYTE, recv, b, MPI_BYTE, comm_.get()));
}

void MpiCommunicator::allgather(const void* send, void* recv, size_t block_bytes) {
  const int b = narrow(int64_t(block_bytes), "block size");
  MPI_CHECK(MPI_Allgather(send, b, MPI_BYTE, recv, b, MPI_BYTE, comm_.get()));
}

void MpiCommunicator::allreduce(void* data, int64_t count, DType type, ReduceOp op) {
  if (count == 0) return;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, narrow(count, "allreduce count"), mpi_type(type),
                          mpi_op(op), comm_.get()));
}

void MpiCommunicator::broadcast(void* data, size_t bytes, int root) {
  MPI_CHECK(MPI_Bcast(data, narrow(int64_t(bytes), "broadcast size"), MPI_BYTE, root, comm_.get()));
}

void MpiCommunicator::barrier() {
  MPI_CHECK(MPI_Barrier(comm_.get()));
}

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) const {
  MPI_Comm c = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split(comm_.get(), color, key, &c));
  return std::unique_ptr<Communicator>(new MpiCommunicator(MpiComm(c)));
}

void MpiCommunicator::abort(const std::string& why) {
  spdlog::critical("rank {} of {}: aborting the job: {}", rank_, size_, why);
  MPI_Abort(comm_.get(), 1);
  std::abort();  // MPI_Abort does not return; in case it does
}

}  // namespace moe::ep
