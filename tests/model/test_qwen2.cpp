// The Qwen2 model against Hugging Face transformers' own Qwen2ForCausalLM (run from the venv on
// the same safetensors file): full forward, packed documents, prefill + decode with the KV
// cache, tied embeddings, greedy generation.
#include "support/catch.h"

#include <torch/torch.h>

#include <fstream>

#include "io/json.h"
#include "io/safetensors.h"
#include "model/qwen2_config.h"
#include "model/qwen2_weights.h"
#include "parallel/process_groups.h"
#include "runtime/error.h"
#include "support/process.h"
#include "support/tiny_model.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

namespace {

// Relative error of `ours` against `reference`: max |diff| / max |reference|.
double relative_error(const torch::Tensor& ours, const torch::Tensor& reference) {
  return ((ours.to(torch::kFloat64) - reference.to(torch::kFloat64)).abs().max() /
          reference.to(torch::kFloat64).abs().max())
      .item<double>();
}

struct Reference {
  std::string dir;
  std::vector<std::vector<int64_t>> sequences;
  std::vector<torch::Tensor> logits;  // (len_i, vocab) each, from transformers
};

Reference hf_logits(const std::string& name, const model::Qwen2Config& config,
                    const std::vector<std::vector<int64_t>>& sequences) {
  Reference ref{scratch_dir(name), sequences, {}};
  write_tiny_checkpoint(ref.dir, config, 42);
  std::ofstream(ref.dir + "/ids.json") << ids_json(sequences);
  auto py = run_python(quote(source_path("tests/model/hf_reference.py")) + " logits " +
                       quote(ref.dir) + " " + quote(ref.dir + "/ids.json") + " " +
                       quote(ref.dir + "/hf_logits.safetensors"));
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  io::SafetensorsReader reader(ref.dir + "/hf_logits.safetensors");
  for (size_t i = 0; i < sequences.size(); ++i)
    ref.logits.push_back(reader.get("logits_" + std::to_string(i)).clone());
  return ref;
}

torch::Tensor as_row(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kInt64).unsqueeze(0);
}

}  // namespace

TEST_CASE("logits equal transformers' Qwen2ForCausalLM (GQA, untied head, rope_theta 1e6)",
          "[model]") {
  auto config = tiny_config();
  Reference ref =
      hf_logits("qwen2_logits", config,
                {random_ids(5, 256, 1), random_ids(17, 256, 2), random_ids(40, 256, 3)});
  auto groups = parallel::ProcessGroups::single();
  auto m = model::load_pretrained(ref.dir, *groups);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < ref.sequences.size(); ++i) {
    torch::Tensor ids = as_row(ref.sequences[i]);
    torch::Tensor positions = torch::arange(ids.size(1)).unsqueeze(0);
    torch::Tensor logits = m->forward(ids, model::training_inputs(positions, {}, config))[0];
    INFO("sequence " << i);
    CHECK(relative_error(logits, ref.logits[i]) < 1e-4);
  }
}

TEST_CASE("packed documents attend only within themselves, positions restart", "[model]") {
  // 256 wide, so that rows of 256+ tokens take model::block_attention (narrower models and rows
  // take SDPA with the dense mask); doc 3 is one causal row of 300.
  auto config = tiny_config();
  config.hidden_size = 256;
  std::vector<std::vector<int64_t>> docs = {random_ids(7, 256, 11), random_ids(12, 256, 12),
                                            random_ids(4, 256, 13), random_ids(300, 256, 14)};
  Reference ref = hf_logits("qwen2_packed", config, docs);
  auto groups = parallel::ProcessGroups::single();
  auto m = model::load_pretrained(ref.dir, *groups);
  torch::NoGradGuard no_grad;
  // Row 0: docs 0,1,2 then padding; row 1: docs 2,0 then padding. Rows of 26 tokens take SDPA
  // with the dense mask, rows of 300 model::block_attention.
  for (const int64_t T : {26, 300}) {
    INFO("row width " << T);
    torch::Tensor ids = torch::zeros({2, T}, torch::kInt64),
                  positions = torch::zeros({2, T}, torch::kInt64);
    torch::Tensor doc_ids = torch::full({2, T}, -1, torch::kInt64);
    std::vector<std::vector<int>> rows = {{0, 1, 2}, {2, 0}};
    std::vector<std::vector<int64_t>> starts(2);
    for (int r = 0; r < 2; ++r) {
      int64_t at = 0;
      for (int d : rows[r]) {
        starts[r].push_back(at);
        for (size_t j = 0; j < docs[d].size(); ++j, ++at) {
          ids[r][at] = docs[d][j];
          positions[r][at] = static_cast<int64_t>(j);
          doc_ids[r][at] = d;
        }
      }
    }
    auto inputs = model::training_inputs(positions, doc_ids, config);
    CHECK(inputs.blocks.key_begin.defined() == (T >= 256));
    torch::Tensor logits = m->forward(ids, inputs);
    for (int r = 0; r < 2; ++r) {
      for (size_t k = 0; k < rows[r].size(); ++k) {
        int d = rows[r][k];
        torch::Tensor slice =
            logits[r].narrow(0, starts[r][k], static_cast<int64_t>(docs[d].size()));
        INFO("row " << r << " doc " << d);
        CHECK(relative_error(slice, ref.logits[d]) < 1e-4);
      }
    }
    CHECK(torch::isfinite(logits).all().item<bool>());  // padding rows stay finite
  }
  auto causal = model::training_inputs(torch::arange(300).unsqueeze(0), {}, config);
  REQUIRE(causal.blocks.key_begin.defined());
  CHECK(relative_error(m->forward(as_row(docs[3]), causal)[0], ref.logits[3]) < 1e-4);
}

TEST_CASE("prefill + incremental decode with the KV cache equals the full forward", "[model]") {
  auto config = tiny_config();
  std::vector<std::vector<int64_t>> full = {random_ids(14, 256, 21), random_ids(11, 256, 22),
                                            random_ids(9, 256, 23)};
  Reference ref = hf_logits("qwen2_decode", config, full);
  auto groups = parallel::ProcessGroups::single();
  auto m = model::load_pretrained(ref.dir, *groups);
  // Without gradients CPU decode steps take acerl's decode kernel; with them, SDPA over the
  // cache with the slot mask the layers build.
  const bool grad = GENERATE(false, true);
  INFO("gradients " << (grad ? "on" : "off"));
  torch::AutoGradMode grad_mode(grad);
  // Prompts of different lengths in one right-padded batch, then decode token by token.
  std::vector<int64_t> prompt_len = {6, 2, 4};
  const int64_t B = 3, T = 6, steps = 5;
  torch::Tensor ids = torch::zeros({B, T}, torch::kInt64),
                positions = torch::zeros({B, T}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      ids[b][t] = t < prompt_len[b] ? full[b][t] : 0;
      positions[b][t] = t;
    }
  auto cache = m->new_cache(B, 32, torch::kFloat32);
  torch::Tensor prefill = m->forward(ids, model::cached_inputs(positions, cache, config));
  for (int64_t b = 0; b < B; ++b) {
    INFO("prefill row " << b);
    CHECK(relative_error(prefill[b].narrow(0, 0, prompt_len[b]),
                         ref.logits[b].narrow(0, 0, prompt_len[b])) < 1e-4);
  }
  for (int64_t s = 0; s < steps; ++s) {
    torch::Tensor step_ids = torch::zeros({B, 1}, torch::kInt64),
                  step_pos = torch::zeros({B, 1}, torch::kInt64);
    for (int64_t b = 0; b < B; ++b) {
      step_pos[b][0] = prompt_len[b] + s;
      step_ids[b][0] = full[b][prompt_len[b] + s];
    }
    torch::Tensor logits = m->forward(step_ids, model::cached_inputs(step_pos, cache, config));
    for (int64_t b = 0; b < B; ++b) {
      INFO("decode step " << s << " row " << b);
      CHECK(relative_error(logits[b][0], ref.logits[b][prompt_len[b] + s]) < 1e-4);
    }
  }
}

TEST_CASE("tied word embeddings load and match transformers", "[model]") {
  auto config = tiny_config(/*tied=*/true);
  Reference ref = hf_logits("qwen2_tied", config, {random_ids(9, 256, 31)});
  auto groups = parallel::ProcessGroups::single();
  auto m = model::load_pretrained(ref.dir, *groups);
  CHECK_FALSE(m->lm_head);
  torch::NoGradGuard no_grad;
  torch::Tensor ids = as_row(ref.sequences[0]);
  torch::Tensor logits =
      m->forward(ids, model::training_inputs(torch::arange(9).unsqueeze(0), {}, config))[0];
  CHECK(relative_error(logits, ref.logits[0]) < 1e-4);
}

TEST_CASE("parameter names and shapes are the Hugging Face ones", "[model]") {
  auto groups = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM m(tiny_config(), *groups);
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& s : m->param_shards()) shapes[s.name] = s.full_shape;
  CHECK(shapes.size() == 3 + 4 * 12);
  CHECK(shapes.at("model.embed_tokens.weight") == std::vector<int64_t>{256, 64});
  CHECK(shapes.at("model.layers.3.self_attn.k_proj.weight") == std::vector<int64_t>{32, 64});
  CHECK(shapes.at("model.layers.0.self_attn.q_proj.bias") == std::vector<int64_t>{64});
  CHECK(shapes.at("model.layers.2.mlp.down_proj.weight") == std::vector<int64_t>{64, 128});
  CHECK(shapes.at("lm_head.weight") == std::vector<int64_t>{256, 64});
  CHECK(shapes.count("model.layers.0.self_attn.o_proj.bias") == 0);
  int64_t total = 0;
  for (const auto& [name, shape] : shapes) total += c10::multiply_integers(shape);
  CHECK(total == tiny_config().parameter_count());
}

TEST_CASE("config.json fields acerl does not implement are refused by name", "[model]") {
  auto error = [](const std::string& extra) {
    const std::string text =
        "{\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "
        "\"num_attention_heads\": 4, \"vocab_size\": 300" +
        extra + "}";
    try {
      model::Qwen2Config::from_json(json::parse(text, "m.json"), "m.json");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  CHECK(error("").empty());
  CHECK(error(", \"hidden_act\": \"silu\"").empty());
  CHECK_THAT(error(", \"hidden_act\": \"gelu\""),
             Contains("m.json: hidden_act \"gelu\" is not supported"));
  CHECK_THAT(error(", \"max_position_embeddings\": -1"),
             Contains("max_position_embeddings = -1 must be > 0"));
  CHECK_THAT(error(", \"rope_scaling\": {\"type\": \"yarn\"}"), Contains("rope_scaling"));
  CHECK_THAT(error(", \"use_sliding_window\": true"), Contains("use_sliding_window"));
  CHECK_THAT(error(", \"rms_norm_eps\": 0"), Contains("rms_norm_eps = 0 must be"));
}

TEST_CASE("a model file with tensors Qwen2 does not have is refused by name", "[model]") {
  auto groups = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM m(tiny_config(), *groups);
  const std::string dir = scratch_dir("qwen2_extra_tensor");
  model::save_pretrained(*m, dir, torch::kFloat32, int64_t(1) << 40);
  auto write_with = [&](const std::string& extra) {
    io::NamedTensors tensors = model::full_weights(*m, torch::kFloat32);
    tensors.emplace_back(extra, torch::ones({16}));
    io::write_safetensors(dir + "/model.safetensors", tensors);
  };
  CHECK_NOTHROW(model::load_pretrained(dir, *groups));
  write_with("model.layers.0.self_attn.q_norm.weight");  // Qwen3
  CHECK_THROWS_WITH(
      model::load_pretrained(dir, *groups),
      Contains("'model.layers.0.self_attn.q_norm.weight' that the Qwen2 architecture"));
  write_with("model.layers.99.mlp.up_proj.weight");  // more layers than the config
  CHECK_THROWS_WITH(model::load_pretrained(dir, *groups),
                    Contains("more layers than num_hidden_layers"));
  write_with("model.layers.0.self_attn.rotary_emb.inv_freq");  // recomputed: accepted
  CHECK_NOTHROW(model::load_pretrained(dir, *groups));
}

TEST_CASE("KvCache::move_rows moves the named rows into place and keeps the first ones",
          "[model]") {
  model::KvCache cache = model::KvCache::allocate(2, 5, 1, 3, 2, torch::kFloat32);
  for (int64_t b = 0; b < 5; ++b) {  // row b holds b (keys) and -b (values) everywhere
    cache.k.select(1, b).fill_(static_cast<double>(b));
    cache.v.select(1, b).fill_(-static_cast<double>(b));
  }
  // Rows 0 and 2 finished: the live rows 3 and 4 take their places, row 1 stays.
  cache.move_rows({3, 4}, {0, 2}, 3);
  REQUIRE(cache.batch() == 3);
  const std::vector<double> want = {3, 1, 4};
  for (int64_t b = 0; b < 3; ++b) {
    CHECK(torch::all(cache.k.select(1, b) == want[static_cast<size_t>(b)]).item<bool>());
    CHECK(torch::all(cache.v.select(1, b) == -want[static_cast<size_t>(b)]).item<bool>());
  }
  cache.move_rows({}, {}, 1);  // the last rows finished: nothing moves
  CHECK(cache.batch() == 1);
  CHECK(torch::all(cache.k == 3).item<bool>());
}

TEST_CASE("KvCache::write puts each row's keys and values into its slots, and nothing else",
          "[model]") {
  // A cache of 4 rows viewed as its first 3 (as compaction leaves it), bf16 and float32 values,
  // the values' transposed layout of a projection, with and without autograd (direct copies,
  // then LibTorch's indexed write).
  for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (bool grad : {false, true}) {
      INFO(dtype << ", gradients " << grad);
      torch::AutoGradMode grad_mode(grad);
      model::KvCache full = model::KvCache::allocate(2, 4, 2, 6, 8, dtype);
      full.k.fill_(-1);
      full.v.fill_(-2);
      model::KvCache cache{full.k.narrow(1, 0, 3), full.v.narrow(1, 0, 3)};
      const int64_t B = 3, KV = 2, T = 2, hd = 8;
      torch::Tensor k = torch::randn({B, T, KV, hd}).transpose(1, 2);  // (B, KV, T, hd)
      torch::Tensor v = torch::randn({B, T, KV, hd}).transpose(1, 2);
      torch::Tensor slots = torch::tensor({0, 1, 3, 4, 2, 5}, torch::kInt64).view({B, T});
      cache.write(1, k, v, slots);
      torch::Tensor want_k = torch::full({4, KV, 6, hd}, -1.0), want_v = torch::full({4, KV, 6, hd}, -2.0);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
          const int64_t s = slots[b][t].item<int64_t>();
          want_k.select(0, b).select(1, s).copy_(k[b].select(1, t));
          want_v.select(0, b).select(1, s).copy_(v[b].select(1, t));
        }
      CHECK(torch::equal(full.k[1].to(torch::kFloat32), want_k.to(dtype).to(torch::kFloat32)));
      CHECK(torch::equal(full.v[1].to(torch::kFloat32), want_v.to(dtype).to(torch::kFloat32)));
      CHECK(torch::all(full.k[0] == -1).item<bool>());  // the other layer untouched
      CHECK(torch::all(full.v[0] == -2).item<bool>());
    }
  }
}
