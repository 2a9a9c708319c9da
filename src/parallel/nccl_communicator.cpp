// NCCL communicator for CUDA tensors on its own stream; see nccl_communicator.h. Compiled with
// ACERL_WITH_NCCL.
#include "parallel/nccl_communicator.h"

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "runtime/error.h"
#include "runtime/mpi_check.h"

namespace acerl::parallel {
namespace {

void check_nccl(ncclResult_t rc, const char* what, const std::string& comm) {
  ACERL_CHECK(rc == ncclSuccess || rc == ncclInProgress, what, " on communicator '", comm,
              "' failed: ", ncclGetErrorString(rc));
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

using Clock = std::chrono::steady_clock;

// One enqueued NCCL operation: its completion event on the communicator stream, and what the
// monitor needs to name it. Shared between the request that waits for it and the monitor.
struct Work {
  cudaEvent_t done{};
  const char* op = "";
  Clock::time_point start;
  std::vector<torch::Tensor> keep_alive;  // buffers NCCL still reads or writes
  ~Work() {
    if (done) cudaEventDestroy(done);
  }
};

// Completes when the NCCL operation does; wait() orders the caller's current stream after it.
class StreamRequest final : public CommRequest {
 public:
  explicit StreamRequest(std::shared_ptr<Work> work) : work_(std::move(work)) {}
  void wait() override {
    check_cuda(cudaStreamWaitEvent(at::cuda::getCurrentCUDAStream().stream(), work_->done, 0),
               "cudaStreamWaitEvent");
  }
  bool test() override { return cudaEventQuery(work_->done) == cudaSuccess; }

 private:
  std::shared_ptr<Work> work_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(MPI_Comm comm, NcclOptions options)
      : mpi_(comm), options_(std::move(options)) {
    check_mpi(MPI_Comm_rank(mpi_, &rank_), "MPI_Comm_rank", mpi_);
    check_mpi(MPI_Comm_size(mpi_, &size_), "MPI_Comm_size", mpi_);
    int device = 0;
    check_cuda(cudaGetDevice(&device), "cudaGetDevice");
    device_ = static_cast<c10::DeviceIndex>(device);
  }
  ~NcclCommunicator() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (monitor_.joinable()) monitor_.join();
    for (Lane& lane : lanes_) {
      if (!lane.comm) continue;
      // Unwinding after an error: peers may never join, so abort instead of a collective destroy.
      if (std::uncaught_exceptions() > 0) {
        ncclCommAbort(lane.comm);
      } else {
        ncclCommDestroy(lane.comm);
      }
    }
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
    auto work = enqueue("ncclAllReduce", buffer, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclAllReduce(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(),
                           nccl_type(buffer.scalar_type()), nccl_op(op), comm, s);
    });
    StreamRequest(work).wait();
    if (!tensor.is_contiguous()) tensor.copy_(buffer);
  }

  std::unique_ptr<CommRequest> all_reduce_async(torch::Tensor& tensor) override {
    ACERL_CHECK(tensor.is_contiguous(), "NCCL all_reduce_async needs a contiguous tensor");
    check_device(tensor);
    count(2 * (size_ - 1) * nbytes(tensor) / size_);
    auto work = enqueue("ncclAllReduce", tensor, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                           nccl_type(tensor.scalar_type()), ncclSum, comm, s);
    });
    return std::make_unique<StreamRequest>(work);
  }

  torch::Tensor all_gather(const torch::Tensor& tensor, int64_t dim) override {
    torch::Tensor input = prepare(tensor);
    count((size_ - 1) * nbytes(input));
    std::vector<int64_t> shape{size_};
    shape.insert(shape.end(), input.sizes().begin(), input.sizes().end());
    torch::Tensor out = torch::empty(shape, input.options());
    auto work = enqueue("ncclAllGather", input, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclAllGather(input.data_ptr(), out.data_ptr(), input.numel(),
                           nccl_type(input.scalar_type()), comm, s);
    }, {out});
    StreamRequest(work).wait();
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
    auto work = enqueue("ncclReduceScatter", blocks, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclReduceScatter(blocks.data_ptr(), out.data_ptr(), out.numel(),
                               nccl_type(tensor.scalar_type()), ncclSum, comm, s);
    }, {out});
    StreamRequest(work).wait();
    return out;
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    torch::Tensor buffer = prepare(tensor);
    if (rank_ == root) count((size_ - 1) * nbytes(buffer));
    auto work = enqueue("ncclBroadcast", buffer, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclBroadcast(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(),
                           nccl_type(buffer.scalar_type()), root, comm, s);
    });
    StreamRequest(work).wait();
    if (!tensor.is_contiguous()) tensor.copy_(buffer);
  }

  std::unique_ptr<CommRequest> broadcast_async(torch::Tensor& tensor, int root) override {
    ACERL_CHECK(tensor.is_contiguous(), "NCCL broadcast_async needs a contiguous tensor");
    check_device(tensor);
    if (rank_ == root) count((size_ - 1) * nbytes(tensor));
    auto work = enqueue("ncclBroadcast", tensor, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(), tensor.numel(),
                           nccl_type(tensor.scalar_type()), root, comm, s);
    });
    return std::make_unique<StreamRequest>(work);
  }

  void send(const torch::Tensor& tensor, int dst, int tag) override {
    isend(tensor, dst, tag)->wait();
  }
  void recv(torch::Tensor& tensor, int src, int tag) override {
    irecv(tensor, src, tag)->wait();
  }

  // NCCL matches point-to-point operations by order on one stream, not by tag, and runs them one
  // after another: activations going forward and gradients going back on one stream could each
  // wait for the other (a send waits for its receive). Each tag therefore has its own lane (its
  // own NCCL communicator and stream, NcclOptions::lanes), in which both sides issue operations
  // in the same order.
  std::unique_ptr<CommRequest> isend(const torch::Tensor& tensor, int dst, int tag) override {
    torch::Tensor buffer = prepare(tensor);
    count(nbytes(buffer));
    auto work = enqueue("ncclSend", buffer, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclSend(buffer.data_ptr(), buffer.numel(), nccl_type(buffer.scalar_type()), dst,
                      comm, s);
    }, {}, lane_of(tag));
    return std::make_unique<StreamRequest>(work);
  }

  std::unique_ptr<CommRequest> irecv(torch::Tensor& tensor, int src, int tag) override {
    ACERL_CHECK(tensor.is_contiguous(), "NCCL irecv needs a contiguous tensor");
    check_device(tensor);
    auto work = enqueue("ncclRecv", tensor, [&](ncclComm_t comm, cudaStream_t s) {
      return ncclRecv(tensor.data_ptr(), tensor.numel(), nccl_type(tensor.scalar_type()), src,
                      comm, s);
    }, {}, lane_of(tag));
    return std::make_unique<StreamRequest>(work);
  }

  void barrier() override { check_mpi(MPI_Barrier(mpi_), "MPI_Barrier", mpi_); }

 private:
  void check_device(const torch::Tensor& t) const {
    ACERL_CHECK(t.is_cuda(), "the NCCL communicator moves CUDA tensors; got one on ", t.device());
    ACERL_CHECK(t.device().index() == device_, "communicator '", options_.name, "' lives on cuda:",
                static_cast<int>(device_), " but got a tensor on ", t.device());
  }
  torch::Tensor prepare(const torch::Tensor& t) const {
    check_device(t);
    return t.is_contiguous() ? t : t.contiguous();
  }
  void count(int64_t bytes) {
    stats_.bytes_sent += bytes;
    stats_.calls += 1;
  }

  // Creates the NCCL communicator and the monitor (collective over the axis, first use only).
  // Creates every lane's NCCL communicator and stream, and the monitor (collective over the
  // axis, at the first operation: every rank of an axis reaches one before it needs a peer).
  void init() {
    if (!lanes_.empty()) return;
    c10::cuda::CUDAGuard guard(device_);
    lanes_.resize(static_cast<size_t>(std::max(1, options_.lanes)));
    for (Lane& lane : lanes_) {
      ncclUniqueId id;
      if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId", options_.name);
      check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, mpi_), "MPI_Bcast (NCCL unique id)", mpi_);
      check_nccl(ncclCommInitRank(&lane.comm, size_, id, rank_), "ncclCommInitRank",
                 options_.name);
      lane.stream.emplace(at::cuda::getStreamFromPool(/*isHighPriority=*/true, device_));
    }
    monitor_ = std::thread([this] { monitor(); });
  }

  int lane_of(int tag) const { return std::min(std::max(tag, 0), std::max(1, options_.lanes) - 1); }

  // Orders the communicator stream after the compute stream, enqueues `launch` there, records
  // its completion, tells the caching allocator that the buffers are in use on that stream,
  // and hands the operation to the monitor.
  template <class Launch>
  std::shared_ptr<Work> enqueue(const char* op, const torch::Tensor& buffer, Launch launch,
                                std::initializer_list<torch::Tensor> more = {}, int lane_index = 0) {
    init();
    Lane& lane = lanes_[static_cast<size_t>(lane_index)];
    c10::cuda::CUDAStream& stream = *lane.stream;
    c10::cuda::CUDAGuard guard(device_);
    cudaStream_t compute = at::cuda::getCurrentCUDAStream(device_).stream();
    cudaEvent_t ready{};
    check_cuda(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(ready, compute), "cudaEventRecord");
    check_cuda(cudaStreamWaitEvent(stream.stream(), ready, 0), "cudaStreamWaitEvent");
    cudaEventDestroy(ready);  // released once the wait is satisfied
    auto work = std::make_shared<Work>();
    work->op = op;
    work->start = Clock::now();
    check_nccl(launch(lane.comm, stream.stream()), op, options_.name);
    check_cuda(cudaEventCreateWithFlags(&work->done, cudaEventDisableTiming), "cudaEventCreate");
    check_cuda(cudaEventRecord(work->done, stream.stream()), "cudaEventRecord");
    auto record = [&](const torch::Tensor& t) {
      if (t.defined() && t.numel() > 0)
        c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), stream);
    };
    record(buffer);
    work->keep_alive.push_back(buffer);
    for (const auto& t : more) {
      record(t);
      work->keep_alive.push_back(t);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.push_back(work);
    }
    return work;
  }

  // The monitor thread: drops completed work, aborts the job on an NCCL error or on work older
  // than the timeout (a dead or hung peer would otherwise stall the compute stream for ever).
  void monitor() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::milliseconds(100));
      for (const Lane& lane : lanes_) {
        ncclResult_t async = ncclSuccess;
        if (ncclCommGetAsyncError(lane.comm, &async) != ncclSuccess || async != ncclSuccess) {
          const char* op = pending_.empty() ? "(none pending)" : pending_.front()->op;
          fail(str("NCCL error on communicator '", options_.name, "': ",
                   ncclGetErrorString(async), " (oldest pending operation: ", op, ")"));
        }
      }
      while (!pending_.empty() && cudaEventQuery(pending_.front()->done) == cudaSuccess)
        pending_.pop_front();
      if (pending_.empty() || options_.timeout_s <= 0) continue;
      const double age =
          std::chrono::duration<double>(Clock::now() - pending_.front()->start).count();
      if (age > options_.timeout_s)
        fail(str(pending_.front()->op, " on communicator '", options_.name,
                 "' has not completed after ", static_cast<int64_t>(age),
                 " s (run.collective_timeout_s): another rank is hung or dead"));
    }
  }

  [[noreturn]] void fail(const std::string& message) {
    int world_rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    std::fprintf(stderr, "rank %d: error: %s; aborting the job\n", world_rank, message.c_str());
    std::fflush(stderr);
    for (const Lane& lane : lanes_) ncclCommAbort(lane.comm);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);
  }

  MPI_Comm mpi_;
  NcclOptions options_;
  int rank_ = 0, size_ = 1;
  c10::DeviceIndex device_ = 0;
  struct Lane {
    ncclComm_t comm{};
    std::optional<c10::cuda::CUDAStream> stream;
  };
  std::vector<Lane> lanes_;  // set by init(); lane 0 carries the collectives
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Work>> pending_;
  bool stop_ = false;
  std::thread monitor_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, NcclOptions options) {
  return std::make_unique<NcclCommunicator>(comm, std::move(options));
}

}  // namespace acerl::parallel
