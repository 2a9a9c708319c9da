// Qwen2 weights <-> safetensors; see qwen2_weights.h.
#include "model/qwen2_weights.h"

#include <filesystem>
#include <fstream>
#include <regex>

#include "runtime/error.h"
#include "runtime/log.h"

namespace acerl::model {

namespace {

// Whether `name` is a parameter of the Qwen2 architecture of `config` (any pipeline stage).
bool qwen2_parameter(const std::string& name, const Qwen2Config& config) {
  if (name == "model.embed_tokens.weight" || name == "model.norm.weight") return true;
  if (name == "lm_head.weight") return !config.tie_word_embeddings;
  static const std::regex layer(
      R"(model\.layers\.(\d+)\.(self_attn\.[qkv]_proj\.(weight|bias)|self_attn\.o_proj\.weight|)"
      R"(mlp\.(gate|up|down)_proj\.weight|(input|post_attention)_layernorm\.weight))");
  std::smatch m;
  return std::regex_match(name, m, layer) && m[1].length() < 9 &&
         std::stoll(m[1].str()) < config.n_layer;
}

}  // namespace

void load_weights(Qwen2ForCausalLMImpl& model, const io::SafetensorsReader& reader) {
  torch::NoGradGuard no_grad;
  // Every tensor of the file is used or refused by name: weights of another architecture
  // (Qwen3's q_norm/k_norm, ...) must not be dropped without a word. RoPE's inv_freq buffer,
  // which some exports include, is recomputed from rope_theta.
  for (const auto& name : reader.names()) {
    const std::string inv_freq = "rotary_emb.inv_freq";
    if (name.size() >= inv_freq.size() &&
        name.compare(name.size() - inv_freq.size(), inv_freq.size(), inv_freq) == 0) {
      warn_once("inv_freq", "model: ignoring " + name + " (recomputed from rope_theta)");
      continue;
    }
    ACERL_USAGE_CHECK(qwen2_parameter(name, model.config()), "the checkpoint has a tensor '",
                      clip_text(name),
                      "' that the Qwen2 architecture of this config does not "
                      "have (another architecture, e.g. Qwen3's q_norm/k_norm, or more layers "
                      "than num_hidden_layers = ",
                      model.config().n_layer, ")");
  }
  for (const auto& shard : model.param_shards()) {
    ACERL_USAGE_CHECK(reader.contains(shard.name), "the checkpoint has no tensor '", shard.name,
                      "' (is it a Qwen2 checkpoint of this config?)");
    const auto& entry = reader.entry(shard.name);
    ACERL_USAGE_CHECK(entry.shape == shard.full_shape, "tensor '", shard.name, "' has shape ",
                      torch::IntArrayRef(entry.shape), " in the checkpoint, the config implies ",
                      torch::IntArrayRef(shard.full_shape));
    torch::Tensor full = reader.get(shard.name);
    if (shard.split_dim >= 0)
      full = full.narrow(shard.split_dim, shard.offset, shard.tensor.size(shard.split_dim));
    shard.tensor.copy_(full);
  }
}

io::NamedTensors full_weights(Qwen2ForCausalLMImpl& model, torch::ScalarType dtype) {
  io::NamedTensors out;
  for (const auto& shard : model.param_shards()) {
    ACERL_CHECK(shard.tensor.sizes().vec() == shard.full_shape,
                "full_weights on a tensor-parallel shard of ", shard.name,
                ": gather the shards first");
    out.emplace_back(shard.name, shard.tensor.detach().to(dtype));
  }
  return out;
}

Qwen2ForCausalLM load_pretrained(const std::string& dir, const parallel::ProcessGroups& groups) {
  Qwen2Config config = Qwen2Config::from_file(dir);
  Qwen2ForCausalLM model(config, groups);
  load_weights(*model, io::SafetensorsReader(dir));
  return model;
}

void save_pretrained(Qwen2ForCausalLMImpl& model, const std::string& dir, torch::ScalarType dtype,
                     int64_t max_shard_bytes) {
  std::filesystem::create_directories(dir);
  Qwen2Config config = model.config();
  config.torch_dtype = dtype == torch::kBFloat16  ? "bfloat16"
                       : dtype == torch::kFloat16 ? "float16"
                                                  : "float32";
  std::ofstream(std::filesystem::path(dir) / "config.json") << json::dump(config.to_json()) << "\n";
  io::write_safetensors_checkpoint(dir, full_weights(model, dtype), max_shard_bytes);
}

}  // namespace acerl::model
