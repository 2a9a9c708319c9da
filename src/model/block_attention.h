// defines: BlockLayout and block_attention, the training attention of CPU tensors: queries are
// taken a block of rows at a time, and each block is scored only against the key columns some
// query of it may see (from the start of the earliest document in the block up to the block's
// last row), in float32 batched matmuls, with the backward recomputing the probabilities from
// the saved log-sum-exp. On packed rows of short documents that is the documents' blocks on the
// diagonal instead of the whole T x T square; on one causal document about half of it. Used by
// model/attention for training forwards of CPU tensors; CUDA tensors keep SDPA with the mask.
#pragma once

#include <torch/torch.h>

namespace acerl::model {

// Which keys each query may see, for one training forward over (B, T) packed rows. The rule is
// training_inputs' (model/attention.h): causal, within the query's document (doc_ids), within
// the shared prefix and the query's own branch (segment_ids); padding (doc id < 0) and every
// query see themselves.
struct BlockLayout {
  torch::Tensor doc_ids;      // (B, T) int64 on the CPU, or undefined: one causal document per row
  torch::Tensor segment_ids;  // (B, T) int64 on the CPU, or undefined: no branches
  torch::Tensor key_begin;    // (B, ceil(T / block)) int64: first key column of each query block
  int64_t block = 0;          // query rows per block
};

// The layout of (B, T) rows with `block` query rows per block; 0 picks it from the longest
// document: 64 rows up to 1024 tokens, 32 beyond (the score blocks then stay in cache; measured
// on a 2-core EPYC, see the README).
BlockLayout block_layout(int64_t B, int64_t T, const torch::Tensor& doc_ids,
                         const torch::Tensor& segment_ids, int64_t block = 0);

// Whether block_attention takes these: CPU tensors of float32, float64 or bfloat16.
bool block_attention_applies(const torch::Tensor& q);

// q (B, H, T, hd), k and v (B, KV, T, hd) with H a multiple of KV (query head h uses KV head
// h / (H / KV)); any strides. Returns softmax(q k^T / sqrt(hd) + mask) v as (B, H, T, hd) in q's
// dtype, computed in float32 (float64 for float64 inputs), differentiable in q, k and v.
torch::Tensor block_attention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const BlockLayout& layout);

}  // namespace acerl::model
