// NCCL communicator for CUDA tensors; see nccl_communicator.h. Compiled with ACERL_WITH_NCCL.
#include "parallel/nccl_communicator.h"

#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <exception>

#include "runtime/error.h"
#include "runtime/mpi_check.h"

namespace acerl::parallel {
namespace {

void check_nccl(ncclResult_t rc, const char* what) {
  ACERL_CHECK(rc == ncclSuccess, what, " failed: ", ncclGetErrorString(rc));
}

void check_cuda(cudaError_t rc, const char* what) {
  ACERL_CHECK(rc == cudaSuccess, what, " failed: ", cudaGetErrorString(rc));
}

ncclDataType_t nccl_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return ncclFloat32;
    case torch::kFloat64:
      return ncclFloat64;
    case torch::kBFloat16:
      return ncclBfloat16;
    case torch::kFloat16:
      return ncclFloat16;
    case torch::kInt64:
      return ncclInt64;
    case torch::kInt32:
      return ncclInt32;
    case torch::kUInt8:
    case torch::kBool:
      return ncclUint8;
    default:
      throw Error(str("NCCL communicator: unsupported dtype ", c10::toString(type)));
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return ncclSum;
    case ReduceOp::max:
      return ncclMax;
    case ReduceOp::min:
      return ncclMin;
  }
  return ncclSum;
}

int64_t nbytes(const torch::Tensor& t) {
  return t.numel() * static_cast<int64_t>(t.element_size());
}

// Completes when the work enqueued before it on the stream is done.
class EventRequest final : public CommRequest {
 public:
  EventRequest(cudaStream_t stream, torch::Tensor keep_alive) : keep_alive_(std::move(keep_alive)) {
    check_cuda(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(event_, stream), "cudaEventRecord");
  }
  ~EventRequest() override { cudaEventDestroy(event_); }
  void wait() override { check_cuda(cudaEventSynchronize(event_), "cudaEventSynchronize"); }
  bool test() override { return cudaEventQuery(event_) == cudaSuccess; }

 private:
  cudaEvent_t event_{};
  torch::Tensor keep_alive_;
};

class NcclCommunicator final : public Communicator {
 public:
  explicit NcclCommunicator(MPI_Comm comm) : mpi_(comm) {
    check_mpi(MPI_Comm_rank(mpi_, &rank_), "MPI_Comm_rank", mpi_);
    check_mpi(MPI_Comm_size(mpi_, &size_), "MPI_Comm_size", mpi_);
    ncclUniqueId id;
    if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, mpi_), "MPI_Bcast (NCCL unique id)", mpi_);
    check_nccl(ncclCommInitRank(&nccl_, size_, id, rank_), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    ncclCommDestroy(nccl_);
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && std::uncaught_exceptions() == 0 && mpi_ != MPI_COMM_WORLD &&
        mpi_ != MPI_COMM_SELF)
      MPI_Comm_free(&mpi_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MPI_Comm mpi_comm() const override { return mpi_; }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    torch::Tensor buffer = prepare(tensor);
    count(2 * (size_ - 1) * nbytes(buffer) / size_);
    check_nccl(ncclAllReduce(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(),
                             nccl_type(buffer.scalar_type()), nccl_op(op), nccl_, stream()),
               "ncclAllReduce");
    if (!tensor.is_contiguous()) tensor.copy_(buffer);
    sync();
  }

  std::unique_ptr<CommRequest> all_reduce_async(torch::Tensor& tensor) override {
    ACERL_CHECK(tensor.is_contiguous(), "NCCL all_reduce_async needs a contiguous tensor");
    check_device(tensor);
    count(2 * (size_ - 1) * nbytes(tensor) / size_);
    check_nccl(ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                             nccl_type(tensor.scalar_type()), ncclSum, nccl_, stream()),
               "ncclAllReduce");
    return std::make_unique<EventRequest>(stream(), tensor);
  }

  torch::Tensor all_gather(const torch::Tensor& tensor, int64_t dim) override {
    torch::Tensor input = prepare(tensor);
    count((size_ - 1) * nbytes(input));
    std::vector<int64_t> shape{size_};
    shape.insert(shape.end(), input.sizes().begin(), input.sizes().end());
    torch::Tensor out = torch::empty(shape, input.options());
    check_nccl(ncclAllGather(input.data_ptr(), out.data_ptr(), input.numel(),
                             nccl_type(input.scalar_type()), nccl_, stream()),
               "ncclAllGather");
    dim = dim < 0 ? dim + input.dim() : dim;
    return dim == 0 ? out.flatten(0, 1) : torch::cat(out.unbind(0), dim);
  }

  torch::Tensor reduce_scatter(const torch::Tensor& tensor, int64_t dim) override {
    check_device(tensor);
    dim = dim < 0 ? dim + tensor.dim() : dim;
    ACERL_CHECK(tensor.size(dim) % size_ == 0, "reduce_scatter: dim ", dim, " not divisible by ",
                size_);
    torch::Tensor blocks =
        dim == 0 ? tensor.contiguous() : torch::stack(tensor.chunk(size_, dim)).contiguous();
    count((size_ - 1) * nbytes(blocks) / size_);
    std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
    shape[static_cast<size_t>(dim)] /= size_;
    torch::Tensor out = torch::empty(shape, tensor.options());
    check_nccl(ncclReduceScatter(blocks.data_ptr(), out.data_ptr(), out.numel(),
                                 nccl_type(tensor.scalar_type()), ncclSum, nccl_, stream()),
               "ncclReduceScatter");
    return out;
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    torch::Tensor buffer = prepare(tensor);
    if (rank_ == root) count((size_ - 1) * nbytes(buffer));
    check_nccl(ncclBroadcast(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(),
                             nccl_type(buffer.scalar_type()), root, nccl_, stream()),
               "ncclBroadcast");
    if (!tensor.is_contiguous()) tensor.copy_(buffer);
    sync();
  }

  void send(const torch::Tensor& tensor, int dst, int) override { isend(tensor, dst, 0)->wait(); }
  void recv(torch::Tensor& tensor, int src, int) override { irecv(tensor, src, 0)->wait(); }

  std::unique_ptr<CommRequest> isend(const torch::Tensor& tensor, int dst, int) override {
    torch::Tensor buffer = prepare(tensor);
    count(nbytes(buffer));
    check_nccl(ncclSend(buffer.data_ptr(), buffer.numel(), nccl_type(buffer.scalar_type()), dst,
                        nccl_, stream()),
               "ncclSend");
    return std::make_unique<EventRequest>(stream(), buffer);
  }

  std::unique_ptr<CommRequest> irecv(torch::Tensor& tensor, int src, int) override {
    ACERL_CHECK(tensor.is_contiguous(), "NCCL irecv needs a contiguous tensor");
    check_device(tensor);
    check_nccl(ncclRecv(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()), src,
                        nccl_, stream()),
               "ncclRecv");
    return std::make_unique<EventRequest>(stream(), tensor);
  }

  void barrier() override { check_mpi(MPI_Barrier(mpi_), "MPI_Barrier", mpi_); }

 private:
  static void check_device(const torch::Tensor& t) {
    ACERL_CHECK(t.is_cuda(), "the NCCL communicator moves CUDA tensors; got one on ", t.device());
  }
  torch::Tensor prepare(const torch::Tensor& t) const {
    check_device(t);
    return t.is_contiguous() ? t : t.contiguous();
  }
  cudaStream_t stream() const { return at::cuda::getCurrentCUDAStream().stream(); }
  void sync() const { check_cuda(cudaStreamSynchronize(stream()), "cudaStreamSynchronize"); }
  void count(int64_t bytes) {
    stats_.bytes_sent += bytes;
    stats_.calls += 1;
  }

  MPI_Comm mpi_;
  ncclComm_t nccl_{};
  int rank_ = 0, size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm) {
  return std::make_unique<NcclCommunicator>(comm);
}

}  // namespace acerl::parallel
