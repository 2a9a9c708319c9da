// defines: decode_attention, the attention of one decode step on the CPU: each row's new query
// (its query heads grouped under their KV head) against that row's own cache slots only. Used by
// model/attention for cached decode steps of CPU tensors; CUDA tensors keep SDPA.
#pragma once

#include <torch/torch.h>

namespace acerl::model {

// Whether decode_attention takes these: a CPU cache of float32 or bfloat16 with the head
// dimension contiguous, and a query that needs no gradient (the kernel has no backward).
bool decode_attention_applies(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v);

// q (B, KV, G, hd): the G query heads that share each KV head, one new position per row;
// k, v (B, KV, S, hd): views of the cache (any strides over B, KV and S); lengths (B) int64 on
// the CPU: row b attends to slots [0, lengths[b]), 1 <= lengths[b] <= S. Returns
// softmax(q k^T / sqrt(hd)) v as (B, KV, G, hd) in q's dtype, computed in float32. Each (row, KV
// head) is summed by one thread in a fixed order, so the result does not depend on the thread
// count, the batch or the row's place in it, nor on the x86 CPU's vector width.
torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& lengths);

// exp(x) for x <= 0 as decode_attention computes it (a degree-6 polynomial after range
// reduction; relative error below 3e-7; below -87 it returns exp(-87), about 1.6e-38); exposed
// for its test.
float decode_attention_exp(float x);

}  // namespace acerl::model
