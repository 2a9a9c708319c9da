// Tiny Qwen2 models for tests; see tiny_model.h.
#include "support/tiny_model.h"

#include "io/json.h"
#include "model/qwen2_weights.h"
#include "parallel/process_groups.h"

namespace acerl::test {

model::Qwen2Config tiny_config(bool tied) {
  model::Qwen2Config c;
  c.hidden_size = 64;
  c.intermediate_size = 128;
  c.n_layer = 4;
  c.n_head = 4;
  c.n_head_kv = 2;
  c.vocab_size = 256;
  c.max_position_embeddings = 512;
  c.rope_theta = 1e6;
  c.rms_norm_eps = 1e-6;
  c.tie_word_embeddings = tied;
  // Larger than HF's 0.02 so that logits vary enough for comparisons to mean something.
  c.initializer_range = 0.1;
  return c;
}

void write_tiny_checkpoint(const std::string& dir, const model::Qwen2Config& config,
                           uint64_t seed) {
  auto groups = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM m(config, *groups);
  model::init_parameters(*m, seed);
  model::save_pretrained(*m, dir, torch::kFloat32);
}

std::vector<int64_t> random_ids(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int64_t> ids;
  uint64_t x = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    ids.push_back(static_cast<int64_t>((x >> 33) % static_cast<uint64_t>(vocab)));
  }
  return ids;
}

std::string ids_json(const std::vector<std::vector<int64_t>>& sequences) {
  json::Value all;
  for (const auto& s : sequences) {
    json::Value one = json::Array{};
    for (int64_t id : s) one.push_back(id);
    all.push_back(one);
  }
  return json::dump(all);
}

}  // namespace acerl::test
