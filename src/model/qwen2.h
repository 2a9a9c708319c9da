// defines: the Qwen2 decoder (DecoderLayer, Qwen2ForCausalLM) split over tensor-parallel ranks
// (heads, MLP, vocab) and pipeline stages (contiguous layer ranges), and ParamShard, the map
// between this rank's parameters and the full-shape Hugging Face tensors they are slices of.
// Module names are the HF names, except that a stage numbers its layers from 0: hf_name()
// restores the global index (model.layers.{first_layer + j}).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/attention.h"
#include "model/mlp.h"
#include "model/qwen2_config.h"
#include "model/rmsnorm.h"
#include "parallel/process_groups.h"

namespace acerl::model {

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const Qwen2Config& config, parallel::Communicator& tp, int64_t local_layer);
  torch::Tensor forward(const torch::Tensor& x, const AttentionInputs& in);  // (B, T, d)

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The layers [first, end) of one pipeline stage, and whether it holds the embedding / head.
struct StageRange {
  int64_t first = 0, end = 0;
  bool embedding = true, head = true;
};
// Balanced contiguous split of n_layer layers into pp stages, or the stage sizes given in
// `layers_per_stage` (must sum to n_layer, one entry per stage).
StageRange stage_range(int64_t n_layer, int pp, int pp_rank,
                       const std::vector<int64_t>& layers_per_stage = {});

// One parameter of this rank and the full tensor it is a slice of.
struct ParamShard {
  std::string name;        // HF name, global layer index
  torch::Tensor tensor;    // this rank's parameter
  int64_t split_dim = -1;  // -1: replicated on every TP rank; else the dim split over TP
  std::vector<int64_t> full_shape;
  int64_t offset = 0;  // start of this rank's slice along split_dim
};

class Qwen2ForCausalLMImpl : public torch::nn::Module {
 public:
  Qwen2ForCausalLMImpl(const Qwen2Config& config, const parallel::ProcessGroups& groups,
                       const std::vector<int64_t>& layers_per_stage = {});

  // First stage: `input` = token ids (B, T). Later stages: the previous stage's hidden states.
  // Returns hidden states (B, T, d), after the final norm on the last stage.
  torch::Tensor forward_hidden(const torch::Tensor& input, const AttentionInputs& in);
  // Last stage: vocab-parallel logits (..., V/tp) of final hidden states.
  torch::Tensor head(const torch::Tensor& hidden);
  // forward_hidden, then head on the last stage.
  torch::Tensor forward(const torch::Tensor& input, const AttentionInputs& in);

  // Activation checkpointing per layer (training only: inputs that need a gradient).
  void set_activation_checkpointing(bool on) { checkpoint_layers_ = on; }
  // Drops the attention inputs kept for recomputation; call after the step's backward passes.
  void release_checkpointed_inputs() { kept_inputs_.clear(); }

  const Qwen2Config& config() const { return config_; }
  // Where this rank's parameters live (run.device); batches, caches and buffers follow it.
  torch::Device device() const { return parameters().front().device(); }
  const StageRange& stage() const { return stage_; }
  int64_t vocab_start() const { return vocab_start_; }  // first token id of this TP rank's logits
  std::vector<ParamShard> param_shards();
  std::string hf_name(const std::string& local_name) const;
  // Empty cache for this rank's layers and KV heads, on the model's device.
  KvCache new_cache(int64_t batch, int64_t max_len, torch::ScalarType dtype) const;

  parallel::VocabParallelEmbedding embed_tokens{nullptr};  // model.embed_tokens (first stage)
  torch::nn::ModuleList layers{nullptr};                   // model.layers
  RMSNorm norm{nullptr};                                   // model.norm (last stage)
  parallel::ColumnParallelLinear lm_head{nullptr};         // lm_head (last stage, untied)

 private:
  Qwen2Config config_;
  StageRange stage_;
  parallel::Communicator* tp_;
  int64_t vocab_start_ = 0;
  bool checkpoint_layers_ = false;
  std::vector<std::shared_ptr<const AttentionInputs>> kept_inputs_;
};
TORCH_MODULE(Qwen2ForCausalLM);

// Initialises every parameter as HF does (normal(0, initializer_range) for matrices, zeros for
// biases, ones for norms), drawing each full tensor from a generator seeded by (seed, name) and
// keeping this rank's slice: the same model whatever the parallel layout.
void init_parameters(Qwen2ForCausalLMImpl& model, uint64_t seed);

}  // namespace acerl::model
