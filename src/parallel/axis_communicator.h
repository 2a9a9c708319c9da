// defines: AxisCommunicator, one axis of a GPU job's process grid (tp, pp, dp, world, replica)
// over two transports: the device communicator (NCCL) for tensors on the compute device and the
// host communicator (MPI) for CPU tensors, the small scalars the trainers exchange (token counts,
// loss sums, stop flags). Each call goes by the tensor's device, so code written once for both
// moves its activations and gradients over NCCL and its bookkeeping over MPI. With no device
// communicator (an axis of size 1, or a build without NCCL) device tensors are staged through
// host memory and MPI: slower, never wrong. A CPU job's axes are plain MPI communicators.
#pragma once

#include <memory>

#include "parallel/communicator.h"

namespace acerl::parallel {

class AxisCommunicator final : public Communicator {
 public:
  // `device` may be null. Tensors whose device type is `device_type` are device tensors.
  AxisCommunicator(std::unique_ptr<Communicator> host, std::unique_ptr<Communicator> device,
                   c10::DeviceType device_type);

  Communicator& host() { return *host_; }
  Communicator* device() { return device_.get(); }

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  MPI_Comm mpi_comm() const override { return host_->mpi_comm(); }

  void all_reduce(torch::Tensor& tensor, ReduceOp op = ReduceOp::sum) override;
  std::unique_ptr<CommRequest> all_reduce_async(torch::Tensor& tensor) override;
  torch::Tensor all_gather(const torch::Tensor& tensor, int64_t dim) override;
  torch::Tensor reduce_scatter(const torch::Tensor& tensor, int64_t dim) override;
  void broadcast(torch::Tensor& tensor, int root) override;
  std::unique_ptr<CommRequest> broadcast_async(torch::Tensor& tensor, int root) override;
  void send(const torch::Tensor& tensor, int dst, int tag = 0) override;
  void recv(torch::Tensor& tensor, int src, int tag = 0) override;
  std::unique_ptr<CommRequest> isend(const torch::Tensor& tensor, int dst, int tag = 0) override;
  std::unique_ptr<CommRequest> irecv(torch::Tensor& tensor, int src, int tag = 0) override;
  void barrier() override { host_->barrier(); }

 private:
  template <class Op>
  auto counted(Communicator& comm, Op op);

  std::unique_ptr<Communicator> host_, device_;
  c10::DeviceType device_type_;
};

}  // namespace acerl::parallel
