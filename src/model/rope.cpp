// Rotary embeddings; see rope.h. Float32 and bfloat16 CPU tensors are rotated by one loop over
// the rows (forward, and the transposed rotation for backward) that rounds exactly as the LibTorch
// expression does (x_i c_i - x_{i+h} s_i, no fused multiply-add, each operator's result rounded to
// the dtype); other tensors take that expression (six operators and a concatenation per call).
#include "model/rope.h"

#include <ATen/Parallel.h>

#include <algorithm>

#include "parallel/cpu_math.h"

namespace acerl::model {
namespace {

using namespace parallel::cpu_math;

// Rounds a float32 result to the activations' dtype and back, as each LibTorch operator does.
ACERL_INLINE float rounded(float v, const float*) { return v; }
ACERL_INLINE float rounded(float v, const uint16_t*) { return widen(to_bf16(v)); }

// One row of head_dim = 2 h: forward y = x c + rotate_half(x) s, i.e. y_i = x_i c_i - x_{i+h} s_i
// and y_{i+h} = x_{i+h} c_{i+h} + x_i s_{i+h}; backward applies the transposed rotation to dy.
// Each product and the sum are rounded to T as the expression's operators round them (in bf16 the
// tables too: the expression casts them to the activations' dtype).
template <typename T>
ACERL_INLINE void rotate_row_body(const T* x, const float* c, const float* s, int64_t h,
                                  bool backward, T* y) {
  const T *x0 = x, *x1 = x + h;
  const float *c0 = c, *c1 = c + h, *s0 = s, *s1 = s + h;
  T *y0 = y, *y1 = y + h;
  auto q = [](float v) { return rounded(v, static_cast<const T*>(nullptr)); };
  if (!backward) {
    for (int64_t i = 0; i < h; ++i) {
      const float a = widen(x0[i]), b = widen(x1[i]);
      store(y0 + i, q(q(a * q(c0[i])) - q(b * q(s0[i]))));
      store(y1 + i, q(q(b * q(c1[i])) + q(a * q(s1[i]))));
    }
  } else {  // dx_i = dy_i c_i + dy_{i+h} s_{i+h};  dx_{i+h} = dy_{i+h} c_{i+h} - dy_i s_i
    for (int64_t i = 0; i < h; ++i) {
      const float a = widen(x0[i]), b = widen(x1[i]);
      store(y0 + i, q(q(a * q(c0[i])) + q(b * q(s1[i]))));
      store(y1 + i, q(q(b * q(c1[i])) - q(a * q(s0[i]))));
    }
  }
}

ACERL_CLONES void rotate_row(const float* x, const float* c, const float* s, int64_t h,
                             bool backward, float* y) {
  rotate_row_body(x, c, s, h, backward, y);
}
ACERL_CLONES void rotate_row(const uint16_t* x, const float* c, const float* s, int64_t h,
                             bool backward, uint16_t* y) {
  rotate_row_body(x, c, s, h, backward, y);
}

// x (B, H, T, hd) with unit stride in hd; tables (B or 1, 1, T, hd) float32. Returns y in x's
// layout where x is dense (the transposed view of a projection's output stays as it is).
template <typename T>
torch::Tensor rotate_as(const torch::Tensor& x, const RopeTables& tables, bool backward) {
  const int64_t B = x.size(0), H = x.size(1), T_ = x.size(2), hd = x.size(3);
  torch::Tensor y = torch::empty_like(x);
  const torch::Tensor cos = tables.cos.expand({B, 1, T_, hd}).contiguous(),
                      sin = tables.sin.expand({B, 1, T_, hd}).contiguous();
  const auto* xp = static_cast<const T*>(x.data_ptr());
  const float *cp = cos.data_ptr<float>(), *sp = sin.data_ptr<float>();
  auto* yp = static_cast<T*>(y.data_ptr());
  const int64_t sb = x.stride(0), sh = x.stride(1), st = x.stride(2);
  const int64_t ob = y.stride(0), oh = y.stride(1), ot = y.stride(2);
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(hd, 1));
  at::parallel_for(0, B * H * T_, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / (H * T_), h = (r / T_) % H, t = r % T_;
      const int64_t table = (b * T_ + t) * hd;
      rotate_row(xp + b * sb + h * sh + t * st, cp + table, sp + table, hd / 2, backward,
                 yp + b * ob + h * oh + t * ot);
    }
  });
  return y;
}

torch::Tensor rotate(const torch::Tensor& x, const RopeTables& tables, bool backward) {
  return x.scalar_type() == torch::kBFloat16 ? rotate_as<uint16_t>(x, tables, backward)
                                             : rotate_as<float>(x, tables, backward);
}

bool rope_loop_applies(const torch::Tensor& x, const RopeTables& tables) {
  return x.device().is_cpu() && tables.cos.device().is_cpu() && tables.sin.device().is_cpu() &&
         (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16) &&
         x.dim() == 4 &&
         x.size(3) % 2 == 0 && x.stride(3) == 1 && x.numel() > 0 &&
         tables.cos.scalar_type() == torch::kFloat32 && tables.cos.dim() == 4 &&
         tables.cos.size(1) == 1 && tables.cos.size(2) == x.size(2) &&
         tables.cos.size(3) == x.size(3) &&
         (tables.cos.size(0) == x.size(0) || tables.cos.size(0) == 1) &&
         tables.sin.sizes() == tables.cos.sizes() && tables.sin.scalar_type() == torch::kFloat32;
}

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct CpuRope : torch::autograd::Function<CpuRope> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin) {
    ctx->save_for_backward({cos, sin});
    return rotate(x, {cos, sin}, /*backward=*/false);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    torch::Tensor g = grads[0];
    if (g.stride(3) != 1) g = g.contiguous();
    return {rotate(g, {saved[0], saved[1]}, /*backward=*/true), torch::Tensor(), torch::Tensor()};
  }
};

// inv_freq_i = theta^(-2i / head_dim) (hd/2), computed like HF: exponents in int64 then float32,
// the power in float32.
torch::Tensor inverse_frequencies(int64_t head_dim, double theta, torch::Device device) {
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  torch::Tensor exponents =
      torch::arange(0, head_dim, 2, f32.dtype(torch::kInt64)).to(torch::kFloat32) / head_dim;
  return 1.0 / torch::pow(torch::scalar_tensor(theta, f32), exponents);
}

}  // namespace

RopeTables rope_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta) {
  torch::Tensor inv_freq;
  if (position_ids.device().is_cpu()) {
    // A decode step calls this once per token: the CPU table is kept per thread (the last shape).
    thread_local int64_t kept_dim = -1;
    thread_local double kept_theta = 0;
    thread_local torch::Tensor kept;
    if (kept_dim != head_dim || kept_theta != theta) {
      kept = inverse_frequencies(head_dim, theta, torch::kCPU);
      kept_dim = head_dim;
      kept_theta = theta;
    }
    inv_freq = kept;
  } else {
    inv_freq = inverse_frequencies(head_dim, theta, position_ids.device());
  }
  torch::Tensor angles = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // (B, T, hd/2)
  torch::Tensor emb = torch::cat({angles, angles}, -1).unsqueeze(1);  // (B, 1, T, hd)
  return {emb.cos(), emb.sin()};
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& tables) {
  if (rope_loop_applies(x, tables)) {
    if (torch::GradMode::is_enabled() && x.requires_grad())
      return CpuRope::apply(x, tables.cos, tables.sin);
    return rotate(x, tables, /*backward=*/false);
  }
  const int64_t half = x.size(-1) / 2;
  torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * tables.cos.to(x.scalar_type()) + rotated * tables.sin.to(x.scalar_type());
}

}  // namespace acerl::model
