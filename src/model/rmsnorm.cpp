// RMSNorm; see rmsnorm.h. Float32 tensors take one pass forward and one backward, with no
// float32 temporaries of the activations: the fused kernel of kernels/rmsnorm.cu on CUDA, the
// loops of model/rmsnorm_rows on the CPU. Everything else (bf16 activations) takes the LibTorch
// expression.
#include "model/rmsnorm.h"

#include "model/rmsnorm_rows.h"
#include "runtime/error.h"

#if ACERL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>

#include "kernels/rmsnorm.h"
#endif

namespace acerl::model {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct CpuRmsNorm : torch::autograd::Function<CpuRmsNorm> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, double eps) {
    torch::Tensor xc = x.contiguous(), w = weight.contiguous(), inv_rms;
    torch::Tensor y = rmsnorm_rows_forward(xc, w, eps, &inv_rms);
    ctx->save_for_backward({xc, w, inv_rms});
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor dx, dw;
    rmsnorm_rows_backward(saved[0], saved[1], saved[2], grads[0], dx, dw);
    return {dx, dw, torch::Tensor()};
  }
};

}  // namespace

#if ACERL_WITH_CUDA
namespace {

struct FusedRmsNorm : torch::autograd::Function<FusedRmsNorm> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, double eps) {
    const int64_t d = x.size(-1), rows = x.numel() / d;
    torch::Tensor xc = x.contiguous(), w = weight.contiguous();
    torch::Tensor y = torch::empty_like(xc);
    torch::Tensor inv_rms = torch::empty({rows}, xc.options());
    cudaError_t rc = kernels::launch_rmsnorm_forward(
        xc.data_ptr<float>(), w.data_ptr<float>(), y.data_ptr<float>(), inv_rms.data_ptr<float>(),
        rows, d, static_cast<float>(eps), at::cuda::getCurrentCUDAStream().stream());
    ACERL_CHECK(rc == cudaSuccess, "rmsnorm forward kernel: ", cudaGetErrorString(rc));
    ctx->save_for_backward({xc, w, inv_rms});
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &w = saved[1], &inv_rms = saved[2];
    torch::Tensor dy = grads[0].to(torch::kFloat32).contiguous();
    const int64_t d = x.size(-1), rows = x.numel() / d;
    torch::Tensor dx = torch::empty_like(x), dw_rows = torch::empty_like(x);
    cudaError_t rc = kernels::launch_rmsnorm_backward(
        x.data_ptr<float>(), w.data_ptr<float>(), dy.data_ptr<float>(),
        inv_rms.data_ptr<float>(), dx.data_ptr<float>(), dw_rows.data_ptr<float>(), rows, d,
        at::cuda::getCurrentCUDAStream().stream());
    ACERL_CHECK(rc == cudaSuccess, "rmsnorm backward kernel: ", cudaGetErrorString(rc));
    return {dx, dw_rows.view({rows, d}).sum(0), torch::Tensor()};
  }
};

}  // namespace
#endif

RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
#if ACERL_WITH_CUDA
  if (x.is_cuda() && x.scalar_type() == torch::kFloat32 &&
      weight.scalar_type() == torch::kFloat32 && x.numel() > 0)
    return FusedRmsNorm::apply(x, weight, eps_);
#endif
  if (x.device().is_cpu() && x.scalar_type() == torch::kFloat32 &&
      weight.scalar_type() == torch::kFloat32 && x.numel() > 0) {
    if (torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()))
      return CpuRmsNorm::apply(x, weight, eps_);
    return rmsnorm_rows_forward(x.contiguous(), weight.contiguous(), eps_, nullptr);
  }
  torch::Tensor h = x.to(torch::kFloat32);
  h = h * torch::rsqrt(h.pow(2).mean(-1, /*keepdim=*/true) + eps_);
  return weight * h.to(x.scalar_type());
}

}  // namespace acerl::model
