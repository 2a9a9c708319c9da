// The local (size-1) and MPI communicators; see communicator.h.
#include "parallel/communicator.h"

#include <c10/util/BFloat16.h>

#include <climits>

#include <exception>

#include "runtime/error.h"
#include "runtime/mpi_check.h"
#include "runtime/watchdog.h"

namespace acerl::parallel {
namespace {

// bfloat16 has no MPI type: it travels as uint16 and reduces through these user operations,
// which widen to float, combine and round back (what NCCL does for bf16).
template <class Combine>
void bf16_reduce(void* in, void* inout, int* len, Combine combine) {
  auto* a = static_cast<const c10::BFloat16*>(in);
  auto* b = static_cast<c10::BFloat16*>(inout);
  for (int i = 0; i < *len; ++i) b[i] = c10::BFloat16(combine(float(a[i]), float(b[i])));
}
void bf16_sum(void* in, void* inout, int* len, MPI_Datatype*) {
  bf16_reduce(in, inout, len, [](float x, float y) { return x + y; });
}
void bf16_max(void* in, void* inout, int* len, MPI_Datatype*) {
  bf16_reduce(in, inout, len, [](float x, float y) { return x > y ? x : y; });
}
void bf16_min(void* in, void* inout, int* len, MPI_Datatype*) {
  bf16_reduce(in, inout, len, [](float x, float y) { return x < y ? x : y; });
}

MPI_Op mpi_op(ReduceOp op, torch::ScalarType type) {
  if (type == torch::kBFloat16) {
    static MPI_Op ops[3] = {MPI_OP_NULL, MPI_OP_NULL, MPI_OP_NULL};
    static bool created = [] {
      check_mpi(MPI_Op_create(bf16_sum, 1, &ops[0]), "MPI_Op_create");
      check_mpi(MPI_Op_create(bf16_max, 1, &ops[1]), "MPI_Op_create");
      check_mpi(MPI_Op_create(bf16_min, 1, &ops[2]), "MPI_Op_create");
      return true;
    }();
    (void)created;
    return ops[static_cast<int>(op)];
  }
  switch (op) {
    case ReduceOp::sum:
      return MPI_SUM;
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
  }
  return MPI_SUM;
}

MPI_Datatype mpi_type(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32:
      return MPI_FLOAT;
    case torch::kFloat64:
      return MPI_DOUBLE;
    case torch::kInt64:
      return MPI_INT64_T;
    case torch::kInt32:
      return MPI_INT32_T;
    case torch::kBFloat16:
      return MPI_UINT16_T;
    case torch::kUInt8:
    case torch::kBool:
      return MPI_UINT8_T;
    default:
      throw Error(str("MPI communicator: unsupported dtype ", c10::toString(type)));
  }
}

int mpi_count(int64_t n) {
  ACERL_CHECK(n <= INT_MAX, "MPI message of ", n, " elements exceeds the int count limit");
  return static_cast<int>(n);
}

constexpr int64_t kChunk = int64_t(1) << 30;  // elements per MPI call for the chunked operations

int64_t nbytes(const torch::Tensor& t) {
  return t.numel() * static_cast<int64_t>(t.element_size());
}

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce(torch::Tensor&, ReduceOp) override {}
  std::unique_ptr<CommRequest> all_reduce_async(torch::Tensor&) override {
    struct Done : CommRequest {
      void wait() override {}
      bool test() override { return true; }
    };
    return std::make_unique<Done>();
  }
  torch::Tensor all_gather(const torch::Tensor& t, int64_t) override { return t; }
  torch::Tensor reduce_scatter(const torch::Tensor& t, int64_t) override { return t; }
  void broadcast(torch::Tensor&, int) override {}
  std::unique_ptr<CommRequest> broadcast_async(torch::Tensor& tensor, int) override {
    return all_reduce_async(tensor);  // (the identity, complete at once)
  }
  void send(const torch::Tensor&, int dst, int) override {
    throw Error(str("send to rank ", dst, " on a single-rank communicator"));
  }
  void recv(torch::Tensor&, int src, int) override {
    throw Error(str("recv from rank ", src, " on a single-rank communicator"));
  }
  std::unique_ptr<CommRequest> isend(const torch::Tensor&, int dst, int) override {
    throw Error(str("isend to rank ", dst, " on a single-rank communicator"));
  }
  std::unique_ptr<CommRequest> irecv(torch::Tensor&, int src, int) override {
    throw Error(str("irecv from rank ", src, " on a single-rank communicator"));
  }
  void barrier() override {}
  MPI_Comm mpi_comm() const override { return MPI_COMM_NULL; }
};

class MpiRequest final : public CommRequest {
 public:
  // `comm`: the communicator's name, for the watchdog's message (the communicator outlives its
  // requests; the watchdog may read the name while a wait ends).
  MpiRequest(MPI_Request request, torch::Tensor staging, torch::Tensor target, const char* comm)
      : request_(request), staging_(std::move(staging)), target_(std::move(target)), comm_(comm) {}
  // Completes a request nobody waited for, except while an exception unwinds: the peer rank
  // may never post its side, and the job is about to abort anyway (the request is leaked).
  ~MpiRequest() override {
    if (!done_ && request_ != MPI_REQUEST_NULL && std::uncaught_exceptions() == 0)
      MPI_Wait(&request_, MPI_STATUS_IGNORE);
  }
  void wait() override {
    if (done_) return;
    CollectiveScope scope("MPI_Wait", comm_);
    check_mpi(MPI_Wait(&request_, MPI_STATUS_IGNORE), "MPI_Wait");
    complete();
  }
  bool test() override {
    if (done_) return true;
    int flag = 0;
    check_mpi(MPI_Test(&request_, &flag, MPI_STATUS_IGNORE), "MPI_Test");
    if (flag) complete();
    return done_;
  }

 private:
  void complete() {
    done_ = true;
    if (staging_.defined() && target_.defined()) target_.copy_(staging_);
  }
  MPI_Request request_;
  torch::Tensor staging_, target_;  // staging: contiguous copy; target: where a receive lands
  const char* comm_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(MPI_Comm comm) : comm_(comm) {
    check_mpi(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank", comm_);
    check_mpi(MPI_Comm_size(comm_, &size_), "MPI_Comm_size", comm_);
    int length = 0;
    check_mpi(MPI_Comm_get_name(comm_, name_, &length), "MPI_Comm_get_name", comm_);
  }
  // MPI_Comm_free may synchronise: not while an exception unwinds (the job is aborting).
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && std::uncaught_exceptions() == 0 && comm_ != MPI_COMM_WORLD &&
        comm_ != MPI_COMM_SELF && comm_ != MPI_COMM_NULL)
      MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  MPI_Comm mpi_comm() const override { return comm_; }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    check_cpu(tensor);
    count(2 * (size_ - 1) * nbytes(tensor) / size_);
    if (size_ == 1) return;
    CollectiveScope scope("MPI_Allreduce", name_);
    torch::Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
    char* data = static_cast<char*>(buffer.data_ptr());
    const int64_t element = buffer.element_size();
    for (int64_t start = 0; start < buffer.numel(); start += kChunk) {
      int64_t n = std::min(kChunk, buffer.numel() - start);
      check_mpi(
          MPI_Allreduce(MPI_IN_PLACE, data + start * element, static_cast<int>(n),
                        mpi_type(buffer.scalar_type()), mpi_op(op, buffer.scalar_type()), comm_),
          "MPI_Allreduce", comm_);
    }
    if (!tensor.is_contiguous()) tensor.copy_(buffer);
  }

  std::unique_ptr<CommRequest> all_reduce_async(torch::Tensor& tensor) override {
    check_cpu(tensor);
    count(2 * (size_ - 1) * nbytes(tensor) / size_);
    torch::Tensor staging = tensor.is_contiguous() ? torch::Tensor() : tensor.contiguous();
    torch::Tensor& buffer = staging.defined() ? staging : tensor;
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Iallreduce(MPI_IN_PLACE, buffer.data_ptr(), mpi_count(buffer.numel()),
                             mpi_type(buffer.scalar_type()),
                             mpi_op(ReduceOp::sum, buffer.scalar_type()), comm_, &request),
              "MPI_Iallreduce", comm_);
    return std::make_unique<MpiRequest>(request, staging,
                                        staging.defined() ? tensor : torch::Tensor(), name_);
  }

  torch::Tensor all_gather(const torch::Tensor& tensor, int64_t dim) override {
    check_cpu(tensor);
    torch::Tensor input = tensor.contiguous();
    count((size_ - 1) * nbytes(input));
    std::vector<int64_t> shape{size_};
    shape.insert(shape.end(), input.sizes().begin(), input.sizes().end());
    torch::Tensor out = torch::empty(shape, input.options());
    const int n = mpi_count(input.numel());
    CollectiveScope scope("MPI_Allgather", name_);
    check_mpi(MPI_Allgather(input.data_ptr(), n, mpi_type(input.scalar_type()), out.data_ptr(), n,
                            mpi_type(input.scalar_type()), comm_),
              "MPI_Allgather", comm_);
    dim = dim < 0 ? dim + input.dim() : dim;
    if (dim == 0) return out.flatten(0, 1);
    return torch::cat(out.unbind(0), dim);
  }

  torch::Tensor reduce_scatter(const torch::Tensor& tensor, int64_t dim) override {
    check_cpu(tensor);
    dim = dim < 0 ? dim + tensor.dim() : dim;
    ACERL_CHECK(tensor.size(dim) % size_ == 0, "reduce_scatter: dim ", dim, " of size ",
                tensor.size(dim), " is not divisible by ", size_, " ranks");
    torch::Tensor blocks =
        dim == 0 ? tensor.contiguous() : torch::stack(tensor.chunk(size_, dim)).contiguous();
    count((size_ - 1) * nbytes(blocks) / size_);
    std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
    shape[static_cast<size_t>(dim)] /= size_;
    torch::Tensor out = torch::empty(shape, tensor.options());
    CollectiveScope scope("MPI_Reduce_scatter_block", name_);
    check_mpi(MPI_Reduce_scatter_block(blocks.data_ptr(), out.data_ptr(), mpi_count(out.numel()),
                                       mpi_type(tensor.scalar_type()),
                                       mpi_op(ReduceOp::sum, tensor.scalar_type()), comm_),
              "MPI_Reduce_scatter_block", comm_);
    return out;
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    check_cpu(tensor);
    if (rank_ == root) count((size_ - 1) * nbytes(tensor));
    torch::Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
    CollectiveScope scope("MPI_Bcast", name_);
    for_chunks(buffer, [&](void* data, int n) {
      check_mpi(MPI_Bcast(data, n, mpi_type(buffer.scalar_type()), root, comm_), "MPI_Bcast",
                comm_);
    });
    if (!tensor.is_contiguous()) tensor.copy_(buffer);
  }

  std::unique_ptr<CommRequest> broadcast_async(torch::Tensor& tensor, int root) override {
    check_cpu(tensor);
    if (rank_ == root) count((size_ - 1) * nbytes(tensor));
    torch::Tensor staging = tensor.is_contiguous()
                                ? torch::Tensor()
                                : torch::empty_like(tensor, torch::MemoryFormat::Contiguous);
    if (staging.defined() && rank_ == root) staging.copy_(tensor);
    torch::Tensor& buffer = staging.defined() ? staging : tensor;
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Ibcast(buffer.data_ptr(), mpi_count(buffer.numel()),
                         mpi_type(buffer.scalar_type()), root, comm_, &request),
              "MPI_Ibcast", comm_);
    // (Kept alive by the request: the root's buffer; elsewhere the staging copied back.)
    if (rank_ == root)
      return std::make_unique<MpiRequest>(request, buffer, torch::Tensor(), name_);
    return std::make_unique<MpiRequest>(request, staging,
                                        staging.defined() ? tensor : torch::Tensor(), name_);
  }

  void send(const torch::Tensor& tensor, int dst, int tag) override {
    check_cpu(tensor);
    count(nbytes(tensor));
    torch::Tensor buffer = tensor.contiguous();
    CollectiveScope scope("MPI_Send", name_);
    for_chunks(buffer, [&](void* data, int n) {
      check_mpi(MPI_Send(data, n, mpi_type(buffer.scalar_type()), dst, tag, comm_), "MPI_Send",
                comm_);
    });
  }

  void recv(torch::Tensor& tensor, int src, int tag) override {
    check_cpu(tensor);
    torch::Tensor buffer = tensor.is_contiguous()
                               ? tensor
                               : torch::empty_like(tensor, torch::MemoryFormat::Contiguous);
    CollectiveScope scope("MPI_Recv", name_);
    for_chunks(buffer, [&](void* data, int n) {
      check_mpi(
          MPI_Recv(data, n, mpi_type(buffer.scalar_type()), src, tag, comm_, MPI_STATUS_IGNORE),
          "MPI_Recv", comm_);
    });
    if (!tensor.is_contiguous()) tensor.copy_(buffer);
  }

  std::unique_ptr<CommRequest> isend(const torch::Tensor& tensor, int dst, int tag) override {
    check_cpu(tensor);
    count(nbytes(tensor));
    torch::Tensor buffer = tensor.contiguous();  // kept alive by the request
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Isend(buffer.data_ptr(), mpi_count(buffer.numel()),
                        mpi_type(buffer.scalar_type()), dst, tag, comm_, &request),
              "MPI_Isend", comm_);
    return std::make_unique<MpiRequest>(request, buffer, torch::Tensor(), name_);
  }

  std::unique_ptr<CommRequest> irecv(torch::Tensor& tensor, int src, int tag) override {
    check_cpu(tensor);
    torch::Tensor staging = tensor.is_contiguous()
                                ? torch::Tensor()
                                : torch::empty_like(tensor, torch::MemoryFormat::Contiguous);
    torch::Tensor& buffer = staging.defined() ? staging : tensor;
    MPI_Request request = MPI_REQUEST_NULL;
    check_mpi(MPI_Irecv(buffer.data_ptr(), mpi_count(buffer.numel()),
                        mpi_type(buffer.scalar_type()), src, tag, comm_, &request),
              "MPI_Irecv", comm_);
    return std::make_unique<MpiRequest>(request, staging,
                                        staging.defined() ? tensor : torch::Tensor(), name_);
  }

  void barrier() override {
    CollectiveScope scope("MPI_Barrier", name_);
    check_mpi(MPI_Barrier(comm_), "MPI_Barrier", comm_);
  }

 private:
  static void check_cpu(const torch::Tensor& t) {
    ACERL_CHECK(t.device().is_cpu(), "the MPI communicator moves CPU tensors; got one on ",
                t.device(), " (build with ACERL_WITH_NCCL for CUDA tensors)");
  }
  template <class Fn>
  static void for_chunks(torch::Tensor& buffer, Fn fn) {
    char* data = static_cast<char*>(buffer.data_ptr());
    const int64_t element = buffer.element_size();
    for (int64_t start = 0; start < buffer.numel(); start += kChunk)
      fn(data + start * element, static_cast<int>(std::min(kChunk, buffer.numel() - start)));
  }
  void count(int64_t bytes) {
    stats_.bytes_sent += bytes;
    stats_.calls += 1;
  }

  MPI_Comm comm_;
  int rank_ = 0, size_ = 1;
  char name_[MPI_MAX_OBJECT_NAME] = {};  // "tp", "dp", ... (set by ProcessGroups), for messages
};

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() {
  return std::make_unique<LocalCommunicator>();
}

std::unique_ptr<Communicator> make_mpi_communicator(MPI_Comm comm) {
  return std::make_unique<MpiCommunicator>(comm);
}

}  // namespace acerl::parallel
