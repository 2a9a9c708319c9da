// Grouped-query attention and its masks; see attention.h.
#include "model/attention.h"

#include "model/decode_attention.h"

#include "parallel/tp_mappings.h"
#include "runtime/error.h"

namespace acerl::model {

namespace {

// block_attention takes rows of at least kMinBlockedRow tokens of models at least
// kMinBlockedWidth wide on the CPU. Below either, a block holds too little work for its dozens of
// operator calls: at the quickstart model's width (128: 4 heads of 32) the RL learner's rows of
// 512 ran about 15% slower through it than through masked SDPA; at the small shape's (512) its
// SFT step ran faster (measured on a 2-core EPYC, see the README).
constexpr int64_t kMinBlockedRow = 256;
constexpr int64_t kMinBlockedWidth = 256;

// The dense (B, 1, T, T) mask of training_inputs' rule, for SDPA.
torch::Tensor training_mask(const torch::Tensor& doc_ids, const torch::Tensor& segment_ids) {
  const int64_t T = doc_ids.size(1);
  auto index = torch::TensorOptions().dtype(torch::kInt64).device(doc_ids.device());
  torch::Tensor causal = torch::ones({T, T}, index.dtype(torch::kBool)).tril();  // (T, T)
  torch::Tensor same_doc = doc_ids.unsqueeze(2) == doc_ids.unsqueeze(1);         // (B, T, T)
  torch::Tensor real = (doc_ids >= 0).unsqueeze(2);                              // (B, T, 1)
  torch::Tensor diagonal = torch::eye(T, index.dtype(torch::kBool));
  torch::Tensor allowed = same_doc & causal & real;
  if (segment_ids.defined()) {
    // A branch sees the shared prefix (segment 0) and itself.
    torch::Tensor key_segment = segment_ids.unsqueeze(1);  // (B, 1, T)
    allowed = allowed & ((key_segment == 0) | (segment_ids.unsqueeze(2) == key_segment));
  }
  return (allowed | diagonal).unsqueeze(1);  // (B, 1, T, T)
}

}  // namespace

AttentionInputs training_inputs(const torch::Tensor& position_ids, const torch::Tensor& doc_ids,
                                const Qwen2Config& config, const torch::Tensor& segment_ids) {
  AttentionInputs in;
  in.position_ids = position_ids;
  in.rope = rope_tables(position_ids, config.head_dim(), config.rope_theta);
  if (position_ids.device().is_cpu() && position_ids.size(1) >= kMinBlockedRow &&
      config.hidden_size >= kMinBlockedWidth) {
    // block_attention reads the documents itself; the dense mask is built only if needed.
    in.blocks = block_layout(position_ids.size(0), position_ids.size(1), doc_ids, segment_ids);
  } else if (doc_ids.defined()) {
    in.mask = training_mask(doc_ids, segment_ids);
  }
  return in;
}

namespace {

// Slot s may be attended from position p when s <= p: (B, 1, T, S).
torch::Tensor cache_mask(const torch::Tensor& position_ids, int64_t cache_len) {
  torch::Tensor slots = torch::arange(cache_len, position_ids.options());  // (S)
  return slots.view({1, 1, 1, -1}) <= position_ids.unsqueeze(1).unsqueeze(-1);
}

// The new tokens at `position_ids` (= cache slots) attend to every slot at or before their own
// position among the first `cache_len`.
AttentionInputs over_cache(const torch::Tensor& position_ids, KvCache& cache,
                           const Qwen2Config& config, int64_t cache_len) {
  AttentionInputs in;
  in.position_ids = position_ids;
  in.rope = rope_tables(position_ids, config.head_dim(), config.rope_theta);
  in.cache = &cache;
  in.cache_len = cache_len;
  // CPU decode steps leave the mask to the layers that need one: the decode kernel reads the
  // positions instead.
  if (!(position_ids.device().is_cpu() && position_ids.size(1) == 1))
    in.mask = cache_mask(position_ids, cache_len);
  return in;
}

}  // namespace

AttentionInputs cached_inputs(const torch::Tensor& position_ids, KvCache& cache,
                              const Qwen2Config& config) {
  const int64_t cache_len = position_ids.max().item<int64_t>() + 1;
  ACERL_CHECK(cache_len <= cache.max_len(), "KV cache overflow: position ", cache_len - 1,
              " needs more than the ", cache.max_len(), " preallocated slots");
  return over_cache(position_ids, cache, config, cache_len);
}

AttentionInputs slot_inputs(const torch::Tensor& position_ids, KvCache& cache,
                            const Qwen2Config& config) {
  return over_cache(position_ids, cache, config, cache.max_len());
}

AttentionImpl::AttentionImpl(const Qwen2Config& c, parallel::Communicator& tp, int64_t local_layer)
    : tp_(&tp),
      n_head_local_(c.n_head / tp.size()),
      n_head_kv_local_(c.n_head_kv / tp.size()),
      head_dim_(c.head_dim()),
      local_layer_(local_layer) {
  const int64_t d = c.hidden_size, hd = c.head_dim();
  q_proj = register_module("q_proj", parallel::ColumnParallelLinear(d, c.n_head * hd, true, tp));
  k_proj = register_module("k_proj", parallel::ColumnParallelLinear(d, c.n_head_kv * hd, true, tp));
  v_proj = register_module("v_proj", parallel::ColumnParallelLinear(d, c.n_head_kv * hd, true, tp));
  o_proj = register_module("o_proj", parallel::RowParallelLinear(c.n_head * hd, d, false, tp));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const AttentionInputs& in) {
  const int64_t B = x.size(0), T = x.size(1);
  torch::Tensor shared = parallel::copy_to_tp(x, *tp_);
  auto heads = [&](torch::Tensor y, int64_t n) {
    return y.view({B, T, n, head_dim_}).transpose(1, 2);
  };
  torch::Tensor q =
      apply_rope(heads(q_proj->forward_in_region(shared), n_head_local_), in.rope);  // (B,H,T,hd)
  torch::Tensor k = apply_rope(heads(k_proj->forward_in_region(shared), n_head_kv_local_), in.rope);
  torch::Tensor v = heads(v_proj->forward_in_region(shared), n_head_kv_local_);  // (B, KV, T, hd)
  if (in.cache) {
    in.cache->write(local_layer_, k, v, in.position_ids);
    k = in.cache->k[local_layer_].narrow(2, 0, in.cache_len);  // (B, KV, S, hd)
    v = in.cache->v[local_layer_].narrow(2, 0, in.cache_len);
    q = q.to(k.scalar_type());
  }
  const int64_t group = n_head_local_ / n_head_kv_local_;
  torch::Tensor out;
  std::optional<torch::Tensor> mask;
  const bool decode_kernel = T == 1 && in.cache && decode_attention_applies(q, k, v);
  if (in.mask.defined()) {
    mask = in.mask;
  } else if (in.blocks.key_begin.defined() && in.blocks.doc_ids.defined() &&
             !block_attention_applies(q)) {
    mask = training_mask(in.blocks.doc_ids, in.blocks.segment_ids);
  } else if (in.cache && !decode_kernel) {
    mask = cache_mask(in.position_ids, in.cache_len);
  }
  const bool causal = !mask.has_value();
  if (in.blocks.key_begin.defined() && block_attention_applies(q)) {
    out = block_attention(q, k, v, in.blocks);  // training on the CPU
  } else if (decode_kernel) {
    // A decode step on the CPU: each row over its own slots [0, position] only.
    torch::Tensor lengths = in.position_ids.reshape({B}) + 1;
    out = decode_attention(q.reshape({B, n_head_kv_local_, group, head_dim_}), k, v, lengths)
              .reshape({B, n_head_local_, 1, head_dim_});
  } else if (T == 1 && group > 1 && !causal) {
    // A decode step: the `group` query heads that share a KV head become `group` query rows of
    // that KV head, (B, H, 1, hd) -> (B, KV, group, hd), and the (B, 1, 1, S) mask broadcasts
    // over them. Same result; SDPA's fused CPU kernel takes it, where enable_gqa falls back to
    // expanding K and V (measured at the Qwen2.5-0.5B shape, 768 slots: 0.065 vs 0.83 ms).
    out = at::scaled_dot_product_attention(q.reshape({B, n_head_kv_local_, group, head_dim_}), k, v,
                                           mask)
              .reshape({B, n_head_local_, 1, head_dim_});
  } else {
    out = at::scaled_dot_product_attention(q, k, v, mask, 0.0, causal, std::nullopt,
                                           /*enable_gqa=*/group > 1);
  }
  out = out.transpose(1, 2).reshape({B, T, n_head_local_ * head_dim_});
  return o_proj(out);
}

}  // namespace acerl::model
