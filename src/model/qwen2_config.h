// defines: Qwen2Config, the architecture of a Qwen2-family decoder read from (and written to)
// a Hugging Face config.json. Everything the model, the parallel layout check and the
// checkpoint converter need to know about a checkpoint's shapes lives here.
#pragma once

#include <cstdint>
#include <string>

#include "io/json.h"

namespace acerl::model {

struct Qwen2Config {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t n_layer = 0;    // num_hidden_layers
  int64_t n_head = 0;     // num_attention_heads
  int64_t n_head_kv = 0;  // num_key_value_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 32768;
  double rope_theta = 10000.0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  std::string torch_dtype = "float32";
  double initializer_range = 0.02;
  int64_t bos_token_id = -1;  // -1: not given
  int64_t eos_token_id = -1;

  int64_t head_dim() const { return hidden_size / n_head; }
  int64_t parameter_count() const;

  // Reads config.json (a file, or a directory holding one). Unsupported features (sliding
  // window, rope scaling, another model_type) and inconsistent shapes are UsageErrors naming
  // the file and key.
  static Qwen2Config from_file(const std::string& path);
  static Qwen2Config from_json(const json::Value& doc, const std::string& source);
  // The HF config.json (model_type qwen2, Qwen2ForCausalLM) that transformers loads.
  json::Value to_json() const;
  void validate(const std::string& source) const;
};

}  // namespace acerl::model
