// defines: Communicator, the collective/point-to-point interface over tensors that tensor,
// pipeline and data parallelism use; CommStats (bytes moved, for the benchmarks); and the
// factories: a local size-1 communicator (no MPI) and the MPI backend (CPU tensors: float32,
// float64, bfloat16, int64, int32). The NCCL backend (CUDA tensors) is in nccl_communicator.h.
// Contiguous tensors are handed to MPI in place; others go through one contiguous copy.
#pragma once

#include <mpi.h>
#include <torch/torch.h>

#include <cstdint>
#include <memory>

namespace acerl::parallel {

enum class ReduceOp { sum, max, min };

struct CommStats {
  int64_t bytes_sent = 0;  // payload this rank handed to the network (per algorithm-free model)
  int64_t calls = 0;
};

// A pending non-blocking collective; wait() completes it (and is called by the destructor).
class CommRequest {
 public:
  virtual ~CommRequest() = default;
  virtual void wait() = 0;
  // True once complete (then wait() returns at once). Calling it also lets MPI progress.
  virtual bool test() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;

  // In place: every rank ends with the reduction over all ranks.
  virtual void all_reduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::sum) = 0;
  // Non-blocking all_reduce (sum); `tensor` must stay alive and untouched until wait().
  virtual std::unique_ptr<CommRequest> all_reduce_async(torch::Tensor& tensor) = 0;
  // Concatenation of every rank's tensor (same shape on all ranks) along `dim`, in rank order.
  virtual torch::Tensor all_gather(const torch::Tensor& tensor, int64_t dim) = 0;
  // Sum over ranks, then this rank's 1/size slice along `dim` (which size must divide).
  virtual torch::Tensor reduce_scatter(const torch::Tensor& tensor, int64_t dim) = 0;
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  // Non-blocking broadcast: the root's `tensor` is read, the others' written; it must stay alive
  // and untouched until wait(). Every rank of the communicator issues its broadcasts in the same
  // order, and all of them non-blocking (MPI does not match a blocking broadcast with one).
  // (MPI stages a non-contiguous tensor; NCCL takes contiguous ones only.)
  virtual std::unique_ptr<CommRequest> broadcast_async(torch::Tensor& tensor, int root) = 0;
  virtual void send(const torch::Tensor& tensor, int dst, int tag = 0) = 0;
  // Receives into `tensor`, whose shape and dtype must match what was sent.
  virtual void recv(torch::Tensor& tensor, int src, int tag = 0) = 0;
  // Non-blocking point-to-point; the tensor must stay alive and untouched until wait().
  virtual std::unique_ptr<CommRequest> isend(const torch::Tensor& tensor, int dst, int tag = 0) = 0;
  virtual std::unique_ptr<CommRequest> irecv(torch::Tensor& tensor, int src, int tag = 0) = 0;
  virtual void barrier() = 0;
  // The MPI communicator behind this one (MPI_COMM_NULL for the local one): for HDF5 MPI-IO
  // and for exchanging small metadata.
  virtual MPI_Comm mpi_comm() const = 0;

  const CommStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 protected:
  CommStats stats_;
};

// Size 1, no MPI: every collective is the identity. What single-process code and tests use.
std::unique_ptr<Communicator> make_local_communicator();
// Takes ownership of `comm` (freed by the destructor unless it is MPI_COMM_WORLD/SELF).
std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm);

}  // namespace acerl::parallel
