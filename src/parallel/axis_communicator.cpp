// Device/host routing of one process-grid axis; see axis_communicator.h.
#include "parallel/axis_communicator.h"

#include <type_traits>

#include "runtime/error.h"

namespace acerl::parallel {
namespace {

// A request that is already complete (staged operations finish before they return).
struct Done final : CommRequest {
  void wait() override {}
  bool test() override { return true; }
};

// A staged receive: the host request lands in `host`, wait() copies it to the device tensor.
class StagedRecv final : public CommRequest {
 public:
  StagedRecv(std::unique_ptr<CommRequest> request, torch::Tensor host, torch::Tensor target)
      : request_(std::move(request)), host_(std::move(host)), target_(std::move(target)) {}
  void wait() override {
    if (done_) return;
    request_->wait();
    target_.copy_(host_);
    done_ = true;
  }
  bool test() override {
    if (!done_ && request_->test()) wait();
    return done_;
  }

 private:
  std::unique_ptr<CommRequest> request_;
  torch::Tensor host_, target_;
  bool done_ = false;
};

// A staged send: keeps the host copy alive until MPI is done with it.
class StagedSend final : public CommRequest {
 public:
  StagedSend(std::unique_ptr<CommRequest> request, torch::Tensor host)
      : request_(std::move(request)), host_(std::move(host)) {}
  void wait() override { request_->wait(); }
  bool test() override { return request_->test(); }

 private:
  std::unique_ptr<CommRequest> request_;
  torch::Tensor host_;
};

torch::Tensor to_host(const torch::Tensor& t) { return t.to(torch::kCPU).contiguous(); }

}  // namespace

AxisCommunicator::AxisCommunicator(std::unique_ptr<Communicator> host,
                                   std::unique_ptr<Communicator> device,
                                   c10::DeviceType device_type)
    : host_(std::move(host)), device_(std::move(device)), device_type_(device_type) {
  ACERL_CHECK(host_ != nullptr, "an axis needs a host communicator");
  ACERL_CHECK(!device_ || (device_->rank() == host_->rank() && device_->size() == host_->size()),
              "the device and host communicators of an axis differ in rank or size");
}

template <class Op>
auto AxisCommunicator::counted(Communicator& comm, Op op) {
  const CommStats before = comm.stats();
  auto account = [&] {
    stats_.bytes_sent += comm.stats().bytes_sent - before.bytes_sent;
    stats_.calls += comm.stats().calls - before.calls;
  };
  if constexpr (std::is_void_v<decltype(op())>) {
    op();
    account();
  } else {
    auto result = op();
    account();
    return result;
  }
}

// Each operation: host tensors over MPI; device tensors over the device communicator, or
// copied to the host, moved over MPI and copied back; on an axis of one rank a device tensor's
// collective is the identity, done in place on the device (no host copy, nothing that would
// synchronise: such steps can be captured in a CUDA graph).

void AxisCommunicator::all_reduce(torch::Tensor& tensor, ReduceOp op) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { host_->all_reduce(tensor, op); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { d->all_reduce(tensor, op); });
  if (host_->size() == 1) return;
  torch::Tensor staged = to_host(tensor);
  counted(*host_, [&] { host_->all_reduce(staged, op); });
  tensor.copy_(staged);
}

std::unique_ptr<CommRequest> AxisCommunicator::all_reduce_async(torch::Tensor& tensor) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { return host_->all_reduce_async(tensor); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { return d->all_reduce_async(tensor); });
  if (host_->size() == 1) return std::make_unique<Done>();
  all_reduce(tensor, ReduceOp::sum);
  return std::make_unique<Done>();
}

torch::Tensor AxisCommunicator::all_gather(const torch::Tensor& tensor, int64_t dim) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { return host_->all_gather(tensor, dim); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { return d->all_gather(tensor, dim); });
  if (host_->size() == 1) return tensor.clone();
  torch::Tensor staged = to_host(tensor);
  return counted(*host_, [&] { return host_->all_gather(staged, dim); }).to(tensor.device());
}

torch::Tensor AxisCommunicator::reduce_scatter(const torch::Tensor& tensor, int64_t dim) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { return host_->reduce_scatter(tensor, dim); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { return d->reduce_scatter(tensor, dim); });
  if (host_->size() == 1) return tensor.clone();
  torch::Tensor staged = to_host(tensor);
  return counted(*host_, [&] { return host_->reduce_scatter(staged, dim); }).to(tensor.device());
}

void AxisCommunicator::broadcast(torch::Tensor& tensor, int root) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { host_->broadcast(tensor, root); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { d->broadcast(tensor, root); });
  if (host_->size() == 1) return;
  torch::Tensor staged = to_host(tensor);
  counted(*host_, [&] { host_->broadcast(staged, root); });
  tensor.copy_(staged);
}

std::unique_ptr<CommRequest> AxisCommunicator::broadcast_async(torch::Tensor& tensor, int root) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { return host_->broadcast_async(tensor, root); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { return d->broadcast_async(tensor, root); });
  if (host_->size() == 1) return std::make_unique<Done>();
  // Staged: the root sends a host copy; the others receive into one, copied back by wait().
  torch::Tensor staged = host_->rank() == root
                             ? to_host(tensor)
                             : torch::empty(tensor.sizes(), tensor.options().device(torch::kCPU));
  auto request = counted(*host_, [&] { return host_->broadcast_async(staged, root); });
  if (host_->rank() == root) return std::make_unique<StagedSend>(std::move(request), staged);
  return std::make_unique<StagedRecv>(std::move(request), staged, tensor);
}

void AxisCommunicator::send(const torch::Tensor& tensor, int dst, int tag) {
  isend(tensor, dst, tag)->wait();
}

void AxisCommunicator::recv(torch::Tensor& tensor, int src, int tag) {
  irecv(tensor, src, tag)->wait();
}

std::unique_ptr<CommRequest> AxisCommunicator::isend(const torch::Tensor& tensor, int dst,
                                                     int tag) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { return host_->isend(tensor, dst, tag); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { return d->isend(tensor, dst, tag); });
  torch::Tensor staged = to_host(tensor);
  auto request = counted(*host_, [&] { return host_->isend(staged, dst, tag); });
  return std::make_unique<StagedSend>(std::move(request), staged);
}

std::unique_ptr<CommRequest> AxisCommunicator::irecv(torch::Tensor& tensor, int src, int tag) {
  if (tensor.device().type() != device_type_)
    return counted(*host_, [&] { return host_->irecv(tensor, src, tag); });
  if (Communicator* d = device_.get())
    return counted(*d, [&] { return d->irecv(tensor, src, tag); });
  torch::Tensor staged = torch::empty(tensor.sizes(), tensor.options().device(torch::kCPU));
  auto request = counted(*host_, [&] { return host_->irecv(staged, src, tag); });
  return std::make_unique<StagedRecv>(std::move(request), staged, tensor);
}

}  // namespace acerl::parallel
