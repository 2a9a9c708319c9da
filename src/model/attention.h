// defines: AttentionInputs (what every layer's attention needs for one forward: rotary tables,
// the mask, the KV cache), its builders for the two forward modes, and the grouped-query
// self-attention of a Qwen2 layer, tensor-parallel over heads and KV heads.
//   training: packed rows, attention causal and confined to each document (doc_ids)
//   cached:   prefill or decode against a preallocated KvCache, one causal history per row
#pragma once

#include <torch/torch.h>

#include "model/block_attention.h"
#include "model/kv_cache.h"
#include "model/qwen2_config.h"
#include "model/rope.h"
#include "parallel/tp_layers.h"

namespace acerl::model {

struct AttentionInputs {
  torch::Tensor position_ids;  // (B, T) int64
  RopeTables rope;             // from position_ids
  torch::Tensor mask;  // (B, 1, T, S) bool, true = may attend; undefined: plain causal over T, or
                       // (CPU decode steps) built by a layer from the positions if it needs one
  BlockLayout blocks;        // training on the CPU: the layout block_attention reads (no mask)
  KvCache* cache = nullptr;  // cached mode: keys/values of slots [0, cache_len) are attended
  int64_t cache_len = 0;
};

// Training over packed rows. doc_ids (B, T): tokens attend causally within their document;
// negative ids mark padding (which attends only to itself, keeping every softmax finite).
// An undefined doc_ids means one causal document per row. segment_ids (B, T), when defined,
// splits a document into a shared prefix (0) and branches (1, 2, ...) that see only the prefix
// and themselves.
AttentionInputs training_inputs(const torch::Tensor& position_ids, const torch::Tensor& doc_ids,
                                const Qwen2Config& config,
                                const torch::Tensor& segment_ids = torch::Tensor());
// Prefill or decode: the new tokens sit at `position_ids` (= cache slots) and attend to every
// slot at or before their own position. cache_len = max position + 1.
AttentionInputs cached_inputs(const torch::Tensor& position_ids, KvCache& cache,
                              const Qwen2Config& config);
// A decode step over fixed slots: as cached_inputs, but every row attends over the cache's whole
// capacity (masked past its position), so shapes do not depend on the positions and nothing is
// read back to the host: the step can be captured in a CUDA graph.
AttentionInputs slot_inputs(const torch::Tensor& position_ids, KvCache& cache,
                            const Qwen2Config& config);

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const Qwen2Config& config, parallel::Communicator& tp, int64_t local_layer);
  torch::Tensor forward(const torch::Tensor& x,
                        const AttentionInputs& in);  // (B, T, d) -> (B, T, d)

  parallel::ColumnParallelLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr};  // with bias
  parallel::RowParallelLinear o_proj{nullptr};                                       // no bias

 private:
  parallel::Communicator* tp_;
  int64_t n_head_local_, n_head_kv_local_, head_dim_, local_layer_;
};
TORCH_MODULE(Attention);

}  // namespace acerl::model
