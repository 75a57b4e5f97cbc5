// NCCL communicator: the Communicator of a replica whose ranks each drive one GPU. Buffers live
// in device memory; all-to-all-v is grouped ncclSend/ncclRecv inside ncclGroupStart/End on the
// communicator's CUDA stream; allreduce/allgather/broadcast are the NCCL collectives.
//
// It is built over a host communicator of the same ranks (`bootstrap`, e.g. the replica's MPI
// communicator): rank 0 creates the ncclUniqueId and broadcasts it. The NCCL communicator owns
// its ncclComm_t (ncclCommDestroy) and, unless a stream is given, its CUDA stream
// (cudaStreamDestroy). Calls block until the operation has completed on the device (the stream
// is synchronised), as the Communicator contract says. With an external `stream` (the CUDA
// backend's), operations are ordered after the kernels already queued there; without one, the
// device is synchronised before each operation so data written by any stream is complete.
// Compiled whenever the CUDA toolkit and NCCL are found (MOE_HAVE_NCCL); runs only where a GPU
// exists. In other builds make_nccl_communicator throws a moe::Error saying so.
// Thread-safety: see Communicator.
#pragma once

#include <memory>
#include <string>

#include "expert_parallel/communicator.h"

namespace moe::ep {

// True when this build contains the NCCL communicator.
bool nccl_built();
// Number of CUDA devices this process sees (moe::cuda_device_count: 0 without CUDA in the
// build, without a driver or without GPUs). `why`, when given, receives the reason for 0.
int cuda_device_count(std::string* why = nullptr);

// Collective over `bootstrap`. cuda_device: the device this rank uses (-1 = the current one);
// stream: a cudaStream_t to run on (not owned) or null for a stream of its own.
std::unique_ptr<Communicator> make_nccl_communicator(Communicator& bootstrap, int cuda_device,
                                                     void* stream = nullptr);

}  // namespace moe::ep
