// defines: rotary position embeddings in the rotate-half form of Qwen2/Llama:
// rope_tables turns position ids into cos/sin tables, apply_rope rotates queries and keys.
#pragma once

#include <torch/torch.h>

namespace acerl::model {

struct RopeTables {
  torch::Tensor cos, sin;  // (B, 1, T, head_dim), float32
};

// inv_freq_i = theta^(-2i / head_dim); angle = position * inv_freq, duplicated over both halves.
RopeTables rope_tables(const torch::Tensor& position_ids, int64_t head_dim, double theta);
// x: (B, H, T, head_dim) -> x * cos + rotate_half(x) * sin, in x's dtype.
torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& tables);

}  // namespace acerl::model
