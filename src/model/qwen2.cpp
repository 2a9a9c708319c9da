// The Qwen2 decoder with TP layers and PP stages; see qwen2.h.
#include "model/qwen2.h"

#include <numeric>
#include <regex>

#include "model/activation_checkpoint.h"
#include "parallel/tp_mappings.h"
#include "runtime/error.h"

namespace acerl::model {

DecoderLayerImpl::DecoderLayerImpl(const Qwen2Config& c, parallel::Communicator& tp,
                                   int64_t local_layer) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  self_attn = register_module("self_attn", Attention(c, tp, local_layer));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  mlp = register_module("mlp", Mlp(c.hidden_size, c.intermediate_size, tp));
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const AttentionInputs& in) {
  torch::Tensor h = x + self_attn(input_layernorm(x), in);
  return h + mlp(post_attention_layernorm(h));
}

StageRange stage_range(int64_t n_layer, int pp, int pp_rank,
                       const std::vector<int64_t>& layers_per_stage) {
  StageRange r;
  if (layers_per_stage.empty()) {
    const int64_t base = n_layer / pp,
                  extra = n_layer % pp;  // the first `extra` stages get one more
    r.first = pp_rank * base + std::min<int64_t>(pp_rank, extra);
    r.end = r.first + base + (pp_rank < extra ? 1 : 0);
  } else {
    ACERL_USAGE_CHECK(static_cast<int>(layers_per_stage.size()) == pp,
                      "the pipeline partition lists ", layers_per_stage.size(),
                      " stages but parallel.pp = ", pp);
    ACERL_USAGE_CHECK(
        std::accumulate(layers_per_stage.begin(), layers_per_stage.end(), int64_t(0)) == n_layer,
        "the pipeline partition must sum to num_hidden_layers = ", n_layer);
    for (int64_t n : layers_per_stage)
      ACERL_USAGE_CHECK(n >= 1, "every pipeline stage needs at least one layer");
    r.first =
        std::accumulate(layers_per_stage.begin(), layers_per_stage.begin() + pp_rank, int64_t(0));
    r.end = r.first + layers_per_stage[static_cast<size_t>(pp_rank)];
  }
  r.embedding = pp_rank == 0;
  r.head = pp_rank == pp - 1;
  return r;
}

Qwen2ForCausalLMImpl::Qwen2ForCausalLMImpl(const Qwen2Config& config,
                                           const parallel::ProcessGroups& groups,
                                           const std::vector<int64_t>& layers_per_stage)
    : config_(config), tp_(&groups.tp()) {
  const int pp = groups.layout().pp;
  ACERL_USAGE_CHECK(
      !(config.tie_word_embeddings && pp > 1),
      "tie_word_embeddings with pipeline parallelism (pp > 1) is not supported: the embedding and "
      "the head would live on different stages; use pp = 1 or an untied checkpoint");
  stage_ = stage_range(config.n_layer, pp, groups.pp_rank(), layers_per_stage);
  vocab_start_ = groups.tp_rank() * (config.vocab_size / groups.tp().size());
  if (stage_.embedding)
    embed_tokens = register_module(
        "embed_tokens",
        parallel::VocabParallelEmbedding(config.vocab_size, config.hidden_size, groups.tp()));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = stage_.first; i < stage_.end; ++i)
    layers->push_back(DecoderLayer(config, groups.tp(), i - stage_.first));
  if (stage_.head) {
    norm = register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps));
    if (!config.tie_word_embeddings)
      lm_head = register_module(
          "lm_head", parallel::ColumnParallelLinear(config.hidden_size, config.vocab_size, false,
                                                    groups.tp()));
  }
}

torch::Tensor Qwen2ForCausalLMImpl::forward_hidden(const torch::Tensor& input,
                                                   const AttentionInputs& in) {
  torch::Tensor h = stage_.embedding ? embed_tokens(input) : input;
  if (checkpoint_layers_ && torch::GradMode::is_enabled() && in.cache == nullptr) {
    auto kept = std::make_shared<const AttentionInputs>(in);
    kept_inputs_.push_back(kept);
    for (const auto& layer : *layers) h = checkpointed_layer(*layer->as<DecoderLayer>(), h, kept);
  } else {
    for (const auto& layer : *layers) h = layer->as<DecoderLayer>()->forward(h, in);
  }
  return stage_.head ? norm(h) : h;
}

torch::Tensor Qwen2ForCausalLMImpl::head(const torch::Tensor& hidden) {
  ACERL_CHECK(stage_.head, "head() called on a pipeline stage without the LM head");
  if (lm_head) return lm_head(hidden);
  return parallel::linear(parallel::copy_to_tp(hidden, *tp_), embed_tokens->weight);
}

torch::Tensor Qwen2ForCausalLMImpl::forward(const torch::Tensor& input, const AttentionInputs& in) {
  torch::Tensor h = forward_hidden(input, in);
  return stage_.head ? head(h) : h;
}

std::string Qwen2ForCausalLMImpl::hf_name(const std::string& local_name) const {
  if (local_name.rfind("lm_head.", 0) == 0) return local_name;
  static const std::regex layer("^layers\\.([0-9]+)\\.");
  std::smatch m;
  if (std::regex_search(local_name, m, layer)) {
    int64_t global = std::stoll(m[1].str()) + stage_.first;
    return "model.layers." + std::to_string(global) + "." + m.suffix().str();
  }
  return "model." + local_name;
}

std::vector<ParamShard> Qwen2ForCausalLMImpl::param_shards() {
  auto ends_with = [](const std::string& s, const char* suffix) {
    std::string t(suffix);
    return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
  };
  const int tp = tp_->size(), rank = tp_->rank();
  std::vector<ParamShard> shards;
  for (const auto& item : named_parameters()) {
    ParamShard s;
    s.name = hf_name(item.key());
    s.tensor = item.value();
    for (const char* row_split : {"q_proj.weight", "k_proj.weight", "v_proj.weight", "q_proj.bias",
                                  "k_proj.bias", "v_proj.bias", "gate_proj.weight",
                                  "up_proj.weight", "embed_tokens.weight", "lm_head.weight"})
      if (ends_with(s.name, row_split)) s.split_dim = 0;
    if (ends_with(s.name, "o_proj.weight") || ends_with(s.name, "down_proj.weight"))
      s.split_dim = 1;
    s.full_shape.assign(s.tensor.sizes().begin(), s.tensor.sizes().end());
    if (s.split_dim >= 0) {
      const int64_t local = s.full_shape[static_cast<size_t>(s.split_dim)];
      s.full_shape[static_cast<size_t>(s.split_dim)] = local * tp;
      s.offset = local * rank;
    }
    shards.push_back(std::move(s));
  }
  return shards;
}

KvCache Qwen2ForCausalLMImpl::new_cache(int64_t batch, int64_t max_len,
                                        torch::ScalarType dtype) const {
  return KvCache::allocate(stage_.end - stage_.first, batch, config_.n_head_kv / tp_->size(),
                           max_len, config_.head_dim(), dtype, device());
}

namespace {
// FNV-1a: a fixed string hash, so initial weights do not change with the standard library.
uint64_t stable_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace

void init_parameters(Qwen2ForCausalLMImpl& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  for (const auto& shard : model.param_shards()) {
    const std::string& name = shard.name;
    torch::Tensor full;
    if (name.find("norm.weight") != std::string::npos) {
      full = torch::ones(shard.full_shape);
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      full = torch::zeros(shard.full_shape);
    } else {
      // One generator per tensor, seeded from (seed, name): independent of the layout and of the
      // order in which ranks visit their parameters.
      auto generator = at::make_generator<at::CPUGeneratorImpl>(seed ^ stable_hash(name));
      full = at::normal(0.0, model.config().initializer_range, shard.full_shape, generator);
    }
    if (shard.split_dim >= 0)
      full = full.narrow(shard.split_dim, shard.offset, shard.tensor.size(shard.split_dim));
    shard.tensor.copy_(full);
  }
}

}  // namespace acerl::model
