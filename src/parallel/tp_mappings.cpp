// TP communication primitives as torch::autograd::Functions; see tp_mappings.h.
#include "parallel/tp_mappings.h"

namespace acerl::parallel {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// The communicator travels through the autograd context as an integer: IValues cannot hold raw
// pointers, and the communicator outlives every graph built with it (ProcessGroups owns it).
int64_t as_handle(Communicator& comm) { return reinterpret_cast<int64_t>(&comm); }
Communicator& from(AutogradContext* ctx) {
  return *reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
}

torch::Tensor slice_of_rank(const torch::Tensor& x, Communicator& comm, int64_t dim) {
  int64_t size = x.size(dim);
  TORCH_CHECK(size % comm.size() == 0, "TP split: dim of size ", size, " not divisible by ",
              comm.size());
  int64_t part = size / comm.size();
  return x.narrow(dim, comm.rank() * part, part).contiguous();
}

struct CopyToTp : torch::autograd::Function<CopyToTp> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t comm) {
    ctx->saved_data["comm"] = comm;
    return x.view_as(x);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    torch::Tensor g = grads[0].contiguous().clone();
    from(ctx).all_reduce(g);
    return {g, torch::Tensor()};
  }
};

struct ReduceFromTp : torch::autograd::Function<ReduceFromTp> {
  static torch::Tensor forward(AutogradContext*, const torch::Tensor& x, int64_t comm) {
    torch::Tensor out = x.contiguous().clone();
    reinterpret_cast<Communicator*>(comm)->all_reduce(out);
    return out;
  }
  static tensor_list backward(AutogradContext*, tensor_list grads) {
    return {grads[0], torch::Tensor()};
  }
};

struct GatherFromTp : torch::autograd::Function<GatherFromTp> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t comm,
                               int64_t dim) {
    ctx->saved_data["comm"] = comm;
    ctx->saved_data["dim"] = dim;
    return reinterpret_cast<Communicator*>(comm)->all_gather(x, dim);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    return {slice_of_rank(grads[0], from(ctx), ctx->saved_data["dim"].toInt()), torch::Tensor(),
            torch::Tensor()};
  }
};

struct ScatterToTp : torch::autograd::Function<ScatterToTp> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t comm,
                               int64_t dim) {
    ctx->saved_data["comm"] = comm;
    ctx->saved_data["dim"] = dim;
    return slice_of_rank(x, *reinterpret_cast<Communicator*>(comm), dim);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    return {from(ctx).all_gather(grads[0], ctx->saved_data["dim"].toInt()), torch::Tensor(),
            torch::Tensor()};
  }
};

int64_t positive_dim(const torch::Tensor& x, int64_t dim) { return dim < 0 ? dim + x.dim() : dim; }

}  // namespace

torch::Tensor copy_to_tp(const torch::Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return CopyToTp::apply(x, as_handle(tp));
}

torch::Tensor reduce_from_tp(const torch::Tensor& x, Communicator& tp) {
  if (tp.size() == 1) return x;
  return ReduceFromTp::apply(x, as_handle(tp));
}

torch::Tensor gather_from_tp(const torch::Tensor& x, Communicator& tp, int64_t dim) {
  if (tp.size() == 1) return x;
  return GatherFromTp::apply(x, as_handle(tp), positive_dim(x, dim));
}

torch::Tensor scatter_to_tp(const torch::Tensor& x, Communicator& tp, int64_t dim) {
  if (tp.size() == 1) return x;
  return ScatterToTp::apply(x, as_handle(tp), positive_dim(x, dim));
}

}  // namespace acerl::parallel
