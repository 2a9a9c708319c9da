// defines: moving a Qwen2 model's weights between its (sharded) parameters and full-shape
// Hugging Face tensors: load_weights takes this rank's slice of each tensor from a safetensors
// checkpoint, full_weights returns the full tensors of a single-process model (for writing),
// load_pretrained builds config + model + weights from an HF directory.
#pragma once

#include <string>

#include "io/safetensors.h"
#include "model/qwen2.h"

namespace acerl::model {

// Copies this rank's slice of every parameter from `reader` (any float dtype, converted).
// Missing tensors and shape mismatches are UsageErrors naming the tensor and the checkpoint.
void load_weights(Qwen2ForCausalLMImpl& model, const io::SafetensorsReader& reader);
// All parameters at full shape, HF names, as `dtype` (single process: tp = pp = 1).
io::NamedTensors full_weights(Qwen2ForCausalLMImpl& model, torch::ScalarType dtype);
// config.json + weights of an HF checkpoint directory, laid out for `groups`.
Qwen2ForCausalLM load_pretrained(const std::string& dir, const parallel::ProcessGroups& groups);
// Writes dir/config.json and dir/model.safetensors (or shards) of a single-process model.
void save_pretrained(Qwen2ForCausalLMImpl& model, const std::string& dir, torch::ScalarType dtype,
                     int64_t max_shard_bytes = int64_t(5) << 30);

}  // namespace acerl::model
