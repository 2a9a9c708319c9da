// Rotary embeddings; see rope.h.
#include "model/rope.h"

namespace acerl::model {

RopeTables rope_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta) {
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(position_ids.device());
  // Computed like HF: exponents in int64 then float32, the power in float32.
  torch::Tensor exponents =
      torch::arange(0, head_dim, 2, f32.dtype(torch::kInt64)).to(torch::kFloat32) / head_dim;
  torch::Tensor inv_freq = 1.0 / torch::pow(torch::scalar_tensor(theta, f32), exponents);  // (hd/2)
  torch::Tensor angles = position_ids.to(torch::kFloat32).unsqueeze(-1) * inv_freq;  // (B, T, hd/2)
  torch::Tensor emb = torch::cat({angles, angles}, -1).unsqueeze(1);  // (B, 1, T, hd)
  return {emb.cos(), emb.sin()};
}

torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& tables) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * tables.cos.to(x.scalar_type()) + rotated * tables.sin.to(x.scalar_type());
}

}  // namespace acerl::model
