// Qwen2 weights <-> safetensors; see qwen2_weights.h.
#include "model/qwen2_weights.h"

#include <filesystem>
#include <fstream>

#include "runtime/error.h"

namespace acerl::model {

void load_weights(Qwen2ForCausalLMImpl& model, const io::SafetensorsReader& reader) {
  torch::NoGradGuard no_grad;
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
