// Qwen2Config <-> HF config.json; see qwen2_config.h.
#include "model/qwen2_config.h"

#include <cmath>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/error.h"

namespace acerl::model {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ACERL_USAGE_CHECK(in.good(), "cannot open model config '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int64_t get_int(const json::Value& doc, const char* key, const std::string& source,
                int64_t fallback, bool required) {
  const json::Value* v = doc.find(key);
  if (!v || v->is_null()) {
    ACERL_USAGE_CHECK(!required, source, ": missing key \"", key, "\"");
    return fallback;
  }
  ACERL_USAGE_CHECK(v->is_int(), source, ": \"", key, "\" must be an integer, found ",
                    json::dump(*v));
  return v->as_int();
}

double get_number(const json::Value& doc, const char* key, const std::string& source,
                  double fallback) {
  const json::Value* v = doc.find(key);
  if (!v || v->is_null()) return fallback;
  ACERL_USAGE_CHECK(v->is_number(), source, ": \"", key, "\" must be a number, found ",
                    json::dump(*v));
  return v->as_number();
}

// eos_token_id may be a list in HF configs; acerl keeps the first.
int64_t get_token_id(const json::Value& doc, const char* key) {
  const json::Value* v = doc.find(key);
  if (!v) return -1;
  if (v->is_int()) return v->as_int();
  if (v->is_array() && !v->as_array().empty() && v->as_array()[0].is_int())
    return v->as_array()[0].as_int();
  return -1;
}

}  // namespace

int64_t Qwen2Config::parameter_count() const {
  const int64_t d = hidden_size, hd = head_dim();
  const int64_t attention =
      d * n_head * hd + n_head * hd + 2 * (d * n_head_kv * hd + n_head_kv * hd) + n_head * hd * d;
  const int64_t mlp = 3 * d * intermediate_size;
  const int64_t layer = attention + mlp + 2 * d;
  return vocab_size * d * (tie_word_embeddings ? 1 : 2) + n_layer * layer + d;
}

Qwen2Config Qwen2Config::from_file(const std::string& path) {
  std::string file = std::filesystem::is_directory(path)
                         ? (std::filesystem::path(path) / "config.json").string()
                         : path;
  return from_json(json::parse(read_text(file), file), file);
}

Qwen2Config Qwen2Config::from_json(const json::Value& doc, const std::string& source) {
  ACERL_USAGE_CHECK(doc.is_object(), source, ": a model config must be a JSON object");
  if (const json::Value* type = doc.find("model_type"))
    ACERL_USAGE_CHECK(type->is_string() && type->as_string() == "qwen2", source, ": model_type ",
                      json::dump(*type),
                      " is not supported (acerl implements the Qwen2 architecture: \"qwen2\")");
  if (const json::Value* window = doc.find("use_sliding_window"))
    ACERL_USAGE_CHECK(!window->is_bool() || !window->as_bool(), source,
                      ": use_sliding_window = true is not supported");
  if (const json::Value* scaling = doc.find("rope_scaling"))
    ACERL_USAGE_CHECK(scaling->is_null(), source, ": rope_scaling ", json::dump(*scaling),
                      " is not supported");
  if (const json::Value* act = doc.find("hidden_act"))
    ACERL_USAGE_CHECK(act->is_string() && act->as_string() == "silu", source, ": hidden_act ",
                      clip_text(json::dump(*act)),
                      " is not supported (acerl implements Qwen2's \"silu\" MLP)");
  Qwen2Config c;
  c.hidden_size = get_int(doc, "hidden_size", source, 0, true);
  c.intermediate_size = get_int(doc, "intermediate_size", source, 0, true);
  c.n_layer = get_int(doc, "num_hidden_layers", source, 0, true);
  c.n_head = get_int(doc, "num_attention_heads", source, 0, true);
  c.n_head_kv = get_int(doc, "num_key_value_heads", source, c.n_head, false);
  c.vocab_size = get_int(doc, "vocab_size", source, 0, true);
  c.max_position_embeddings =
      get_int(doc, "max_position_embeddings", source, c.max_position_embeddings, false);
  c.rope_theta = get_number(doc, "rope_theta", source, c.rope_theta);
  // transformers >= 5 may nest it: "rope_parameters": {"rope_theta": ..., "rope_type": "default"}
  if (const json::Value* rope = doc.find("rope_parameters"); rope && rope->is_object()) {
    c.rope_theta = get_number(*rope, "rope_theta", source, c.rope_theta);
    if (const json::Value* type = rope->find("rope_type"))
      ACERL_USAGE_CHECK(type->is_string() && type->as_string() == "default", source, ": rope_type ",
                        json::dump(*type), " is not supported (only \"default\")");
  }
  c.rms_norm_eps = get_number(doc, "rms_norm_eps", source, c.rms_norm_eps);
  ACERL_USAGE_CHECK(c.max_position_embeddings > 0, source,
                    ": max_position_embeddings = ", c.max_position_embeddings, " must be > 0");
  ACERL_USAGE_CHECK(std::isfinite(c.rope_theta) && c.rope_theta > 0, source,
                    ": rope_theta = ", c.rope_theta, " must be a finite number > 0");
  ACERL_USAGE_CHECK(std::isfinite(c.rms_norm_eps) && c.rms_norm_eps > 0, source,
                    ": rms_norm_eps = ", c.rms_norm_eps, " must be a finite number > 0");
  c.initializer_range = get_number(doc, "initializer_range", source, c.initializer_range);
  if (const json::Value* tie = doc.find("tie_word_embeddings")) {
    ACERL_USAGE_CHECK(tie->is_bool(), source, ": \"tie_word_embeddings\" must be true or false");
    c.tie_word_embeddings = tie->as_bool();
  }
  if (const json::Value* dtype = doc.find("torch_dtype"); dtype && dtype->is_string())
    c.torch_dtype = dtype->as_string();
  if (const json::Value* dtype = doc.find("dtype"); dtype && dtype->is_string())
    c.torch_dtype = dtype->as_string();
  c.bos_token_id = get_token_id(doc, "bos_token_id");
  c.eos_token_id = get_token_id(doc, "eos_token_id");
  if (const json::Value* head_dim = doc.find("head_dim"); head_dim && head_dim->is_int())
    ACERL_USAGE_CHECK(c.n_head > 0 && head_dim->as_int() * c.n_head == c.hidden_size, source,
                      ": head_dim ", head_dim->as_int(), " * num_attention_heads ", c.n_head,
                      " != hidden_size ", c.hidden_size,
                      " (acerl's Qwen2 requires head_dim = hidden_size / num_attention_heads)");
  c.validate(source);
  return c;
}

void Qwen2Config::validate(const std::string& source) const {
  auto positive = [&](const char* key, int64_t value) {
    ACERL_USAGE_CHECK(value > 0, source, ": ", key, " must be positive, found ", value);
  };
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", n_layer);
  positive("num_attention_heads", n_head);
  positive("num_key_value_heads", n_head_kv);
  positive("vocab_size", vocab_size);
  ACERL_USAGE_CHECK(hidden_size % n_head == 0, source, ": num_attention_heads = ", n_head,
                    " does not divide hidden_size = ", hidden_size);
  ACERL_USAGE_CHECK(n_head % n_head_kv == 0, source, ": num_key_value_heads = ", n_head_kv,
                    " does not divide num_attention_heads = ", n_head);
  ACERL_USAGE_CHECK(head_dim() % 2 == 0, source, ": the head dimension ", head_dim(),
                    " must be even for rotary embeddings");
  ACERL_USAGE_CHECK(rope_theta > 0 && rms_norm_eps > 0, source,
                    ": rope_theta and rms_norm_eps must be positive");
}

json::Value Qwen2Config::to_json() const {
  json::Value doc;
  doc.set("architectures", json::Array{json::Value("Qwen2ForCausalLM")});
  doc.set("model_type", "qwen2");
  doc.set("hidden_size", hidden_size);
  doc.set("intermediate_size", intermediate_size);
  doc.set("num_hidden_layers", n_layer);
  doc.set("num_attention_heads", n_head);
  doc.set("num_key_value_heads", n_head_kv);
  doc.set("vocab_size", vocab_size);
  doc.set("max_position_embeddings", max_position_embeddings);
  doc.set("rope_theta", rope_theta);
  doc.set("rms_norm_eps", rms_norm_eps);
  doc.set("tie_word_embeddings", tie_word_embeddings);
  doc.set("torch_dtype", torch_dtype);
  doc.set("hidden_act", "silu");
  doc.set("initializer_range", initializer_range);
  doc.set("attention_dropout", 0.0);
  doc.set("use_sliding_window", false);
  doc.set("sliding_window", max_position_embeddings);
  doc.set("max_window_layers", n_layer);
  doc.set("rope_scaling", nullptr);
  doc.set("use_cache", true);
  if (bos_token_id >= 0) doc.set("bos_token_id", bos_token_id);
  if (eos_token_id >= 0) doc.set("eos_token_id", eos_token_id);
  return doc;
}

}  // namespace acerl::model
