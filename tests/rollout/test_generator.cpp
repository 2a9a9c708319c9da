// The generator on one rank: greedy tokens equal transformers' generate(), sampling does not
// depend on the batch size, stop tokens end sequences independently, and the rollout's
// log-probs agree with the learner's recomputation.
#include "support/catch.h"

#include <torch/torch.h>

#include <fstream>

#include "io/json.h"
#include "model/qwen2_weights.h"
#include "rollout/generator.h"
#include "rollout/recompute.h"
#include "support/process.h"
#include "support/tiny_model.h"

using namespace acerl;
using namespace acerl::test;

namespace {

std::vector<rollout::GenerationRequest> requests(int64_t samples) {
  std::vector<rollout::GenerationRequest> out;
  for (int i = 0; i < 5; ++i)
    out.push_back({"prompt-" + std::to_string(i), random_ids(3 + 4 * i, 256, 100 + i), samples});
  return out;
}

model::Qwen2ForCausalLM tiny_model(const std::string& name, const parallel::ProcessGroups& groups) {
  std::string dir = scratch_dir(name);
  write_tiny_checkpoint(dir, tiny_config(), 77);
  return model::load_pretrained(dir, groups);
}

}  // namespace

TEST_CASE("greedy generation equals transformers' greedy generate()", "[rollout]") {
  std::string dir = scratch_dir("generate_greedy");
  write_tiny_checkpoint(dir, tiny_config(), 78);
  auto reqs = requests(1);
  std::vector<std::vector<int64_t>> prompts;
  for (const auto& r : reqs) prompts.push_back(r.prompt);
  std::ofstream(dir + "/ids.json") << ids_json(prompts);
  auto py =
      run_python(quote(source_path("tests/model/hf_reference.py")) + " generate " + quote(dir) +
                 " " + quote(dir + "/ids.json") + " 12 " + quote(dir + "/hf.json"));
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  std::ifstream in(dir + "/hf.json");
  json::Value expected =
      json::parse(std::string(std::istreambuf_iterator<char>(in), {}), "hf.json");

  auto groups = parallel::ProcessGroups::single();
  auto m = model::load_pretrained(dir, *groups);
  rollout::GeneratorOptions options;
  options.sampling.temperature = 0;
  options.max_new_tokens = 12;
  options.precision = model::Precision::fp32;
  options.max_batch = 3;  // forces refills and compaction
  auto completions = rollout::Generator(*m, *groups, options).generate(reqs);
  REQUIRE(completions.size() == reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::vector<int64_t> want;
    for (const auto& t : expected.as_array()[i].as_array()) want.push_back(t.as_int());
    INFO("prompt " << i);
    CHECK(completions[i].tokens == want);
    CHECK(completions[i].truncated);
  }
}

TEST_CASE("sampled tokens do not depend on the batch size or on refills", "[rollout]") {
  auto groups = parallel::ProcessGroups::single();
  auto m = tiny_model("generate_batch", *groups);
  rollout::GeneratorOptions options;
  options.sampling = {0.9, 0.95, 0};
  options.max_new_tokens = 10;
  options.precision = model::Precision::fp32;
  options.seed = 5;
  options.max_batch = 1;
  auto one = rollout::Generator(*m, *groups, options).generate(requests(3));
  options.max_batch = 32;
  auto many = rollout::Generator(*m, *groups, options).generate(requests(3));
  REQUIRE(one.size() == 15);
  REQUIRE(many.size() == 15);
  bool samples_differ = false;
  for (size_t i = 0; i < one.size(); ++i) {
    CHECK(one[i].tokens == many[i].tokens);
    if (i % 3 == 1) samples_differ |= one[i].tokens != one[i - 1].tokens;
  }
  CHECK(samples_differ);  // the samples of one prompt are different streams
}

TEST_CASE("stop tokens end sequences independently; others run to max_new_tokens", "[rollout]") {
  auto groups = parallel::ProcessGroups::single();
  auto m = tiny_model("generate_stop", *groups);
  rollout::GeneratorOptions options;
  options.sampling.temperature = 0;
  options.max_new_tokens = 8;
  options.precision = model::Precision::fp32;
  auto free_run = rollout::Generator(*m, *groups, options).generate(requests(1));
  // Stop at the third token that the first prompt's greedy continuation produces.
  const int64_t stop = free_run[0].tokens[2];
  options.stop_tokens = {stop};
  auto stopped = rollout::Generator(*m, *groups, options).generate(requests(1));
  for (size_t i = 0; i < stopped.size(); ++i) {
    const auto& full = free_run[i].tokens;
    auto at = std::find(full.begin(), full.end(), stop);
    std::vector<int64_t> expected(full.begin(), at == full.end() ? full.end() : at + 1);
    INFO("prompt " << i);
    CHECK(stopped[i].tokens == expected);
    CHECK(stopped[i].truncated == (at == full.end()));
    CHECK(std::string(stopped[i].finish_reason()) == (at == full.end() ? "length" : "stop"));
  }
  CHECK_FALSE(stopped[0].truncated);
}

TEST_CASE("rollout log-probs and entropies agree with the learner's recomputation", "[rollout]") {
  auto groups = parallel::ProcessGroups::single();
  auto m = tiny_model("generate_parity", *groups);
  for (auto precision : {model::Precision::fp32, model::Precision::bf16}) {
    rollout::GeneratorOptions options;
    options.sampling = {0.8, 1.0, 0};
    options.max_new_tokens = 16;
    options.precision = precision;
    options.entropy_temperatures = {0.6, 0.8, 1.0};
    auto reqs = requests(2);
    auto completions = rollout::Generator(*m, *groups, options).generate(reqs);
    std::vector<std::vector<int64_t>> prompts, outputs;
    for (const auto& c : completions) {
      prompts.push_back(reqs[c.request].prompt);
      outputs.push_back(c.tokens);
    }
    auto learner = rollout::recompute_logprobs(*m, *groups, prompts, outputs, 0.8, precision);
    double max_diff = 0, sum_diff = 0, max_entropy_diff = 0;
    int64_t n = 0;
    for (size_t i = 0; i < completions.size(); ++i) {
      for (size_t t = 0; t < completions[i].tokens.size(); ++t) {
        double d = std::abs(completions[i].logprobs[t] - learner[i].logprobs[t]);
        max_diff = std::max(max_diff, d);
        sum_diff += d;
        ++n;
        max_entropy_diff = std::max<double>(
            max_entropy_diff, std::abs(completions[i].entropies[t] - learner[i].entropies[t]));
        // The curve's column at the sampling temperature is the reported entropy.
        CHECK(completions[i].entropy_curve[t * 3 + 1] ==
              Approx(completions[i].entropies[t]).margin(1e-6));
      }
    }
    INFO(model::precision_name(precision)
         << ": logprob |diff| max " << max_diff << " mean " << sum_diff / n
         << ", entropy |diff| max " << max_entropy_diff);
    if (precision == model::Precision::fp32) {
      CHECK(max_diff < 1e-4);
      CHECK(max_entropy_diff < 1e-4);
    } else {
      // bf16 rounds activations differently with and without the KV cache; bounded, not zero.
      CHECK(max_diff < 0.1);
      CHECK(sum_diff / n < 0.02);
    }
  }
}

TEST_CASE("fixed-slot decode gives the compacting decode's tokens, log-probs and entropies",
          "[rollout]") {
  auto groups = parallel::ProcessGroups::single();
  auto m = tiny_model("generate_slots", *groups);
  rollout::GeneratorOptions options;
  options.max_new_tokens = 9;
  options.precision = model::Precision::fp32;
  options.seed = 21;
  options.max_batch = 4;  // 15 sequences: refills into freed slots, buckets 1, 2 and 4
  options.entropy_temperatures = {0.5, 1.5};
  for (rollout::SamplingParams sampling :
       {rollout::SamplingParams{0.0, 1.0, 0}, rollout::SamplingParams{0.9, 1.0, 0},
        rollout::SamplingParams{1.2, 0.8, 0}, rollout::SamplingParams{0.7, 1.0, 20}}) {
    options.sampling = sampling;
    options.decode = rollout::DecodeMode::compact;
    options.stop_tokens = {};
    auto free_run = rollout::Generator(*m, *groups, options).generate(requests(3));
    // Stop tokens from this run's own tokens: sequences end at different steps.
    options.stop_tokens = {free_run[0].tokens[1], free_run[4].tokens[3]};
    rollout::Generator compact(*m, *groups, options);
    auto expected = compact.generate(requests(3));
    size_t stopped_early = 0;
    for (const auto& c : expected) stopped_early += c.truncated ? 0 : 1;
    CHECK(stopped_early >= 2);
    for (auto mode : {rollout::DecodeMode::slots, rollout::DecodeMode::graphs}) {
      INFO("T=" << sampling.temperature << " top_p=" << sampling.top_p << " top_k="
                << sampling.top_k << ", decode " << rollout::decode_mode_name(mode));
      options.decode = mode;
      rollout::Generator slots(*m, *groups, options);
      auto got = slots.generate(requests(3));
      REQUIRE(got.size() == expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].tokens == expected[i].tokens);
        CHECK(got[i].truncated == expected[i].truncated);
        REQUIRE(got[i].logprobs.size() == expected[i].logprobs.size());
        REQUIRE(got[i].entropy_curve.size() == expected[i].entropy_curve.size());
        for (size_t t = 0; t < got[i].tokens.size(); ++t) {
          CHECK(got[i].logprobs[t] == Approx(expected[i].logprobs[t]).margin(1e-5));
          CHECK(got[i].entropies[t] == Approx(expected[i].entropies[t]).margin(1e-5));
        }
        for (size_t k = 0; k < got[i].entropy_curve.size(); ++k)
          CHECK(got[i].entropy_curve[k] == Approx(expected[i].entropy_curve[k]).margin(1e-5));
      }
      CHECK(slots.stats().generated_tokens == compact.stats().generated_tokens);
      CHECK(slots.stats().prefill_tokens == compact.stats().prefill_tokens);
      CHECK(slots.stats().graph_captures == 0);  // no CUDA here: graphs run as slots
    }
  }
}

TEST_CASE("a shared prefill gives every sample the tokens of its own prefill", "[rollout]") {
  auto groups = parallel::ProcessGroups::single();
  auto m = tiny_model("generate_shared_prefill", *groups);
  rollout::GeneratorOptions options;
  options.sampling = {1.1, 0.9, 0};
  options.max_new_tokens = 8;
  options.precision = model::Precision::fp32;
  options.seed = 33;
  options.entropy_temperatures = {0.6};
  // max_batch 4 with 3 samples per prompt: groups are split over refills.
  for (int64_t max_batch : {4, 32})
    for (auto mode : {rollout::DecodeMode::compact, rollout::DecodeMode::slots}) {
      INFO("max_batch " << max_batch << ", decode " << rollout::decode_mode_name(mode));
      options.max_batch = max_batch;
      options.decode = mode;
      options.shared_prefill = false;
      rollout::Generator own(*m, *groups, options);
      auto expected = own.generate(requests(3));
      options.shared_prefill = true;
      rollout::Generator shared(*m, *groups, options);
      auto got = shared.generate(requests(3));
      REQUIRE(got.size() == expected.size());
      bool first_tokens_differ = false;
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].tokens == expected[i].tokens);
        REQUIRE(got[i].logprobs.size() == expected[i].logprobs.size());
        for (size_t t = 0; t < got[i].tokens.size(); ++t) {
          CHECK(got[i].logprobs[t] == Approx(expected[i].logprobs[t]).margin(1e-5));
          CHECK(got[i].entropies[t] == Approx(expected[i].entropies[t]).margin(1e-5));
        }
        if (i % 3 > 0) first_tokens_differ |= got[i].tokens[0] != got[i - 1].tokens[0];
      }
      CHECK(first_tokens_differ);  // samples of one prompt draw their first tokens apart
      CHECK(shared.stats().generated_tokens == own.stats().generated_tokens);
      CHECK(shared.stats().prefill_tokens < own.stats().prefill_tokens);
    }
}

TEST_CASE("on the CPU decode steps after the first few allocate no host memory", "[rollout]") {
  auto groups = parallel::ProcessGroups::single();
  auto m = tiny_model("generate_host_blocks", *groups);
  for (auto decode : {rollout::DecodeMode::compact, rollout::DecodeMode::slots}) {
    INFO("decode " << rollout::decode_mode_name(decode));
    rollout::GeneratorOptions options;
    options.sampling.temperature = 1.0;  // no stop tokens: every row runs to max_new_tokens
    options.entropy_temperatures = {0.5, 1.5};
    options.precision = model::Precision::fp32;
    options.decode = decode;
    std::vector<rollout::GenerationStats> stats;
    for (int64_t steps : {12, 96}) {
      options.max_new_tokens = steps;
      rollout::Generator generator(*m, *groups, options);
      generator.generate(requests(4));
      stats.push_back(generator.stats());
    }
    REQUIRE(stats[1].decode_steps >= stats[0].decode_steps + 84);
    // 84 more steps and no more blocks from malloc than a few (the longer call's KV cache and
    // token buffers have other sizes): each step's tensors reuse the blocks freed before.
    INFO("host allocations " << stats[0].host_allocations << " and " << stats[1].host_allocations);
    CHECK(stats[0].host_allocations > 0);
    CHECK(stats[1].host_allocations < stats[0].host_allocations + 8);
    CHECK(stats[1].host_block_reuses > stats[0].host_block_reuses + 84 * 10);
  }
}

TEST_CASE("each request is reported once, when its last sample finishes, with its final completions",
          "[rollout]") {
  auto groups = parallel::ProcessGroups::single();
  auto m = tiny_model("generate_on_done", *groups);
  rollout::GeneratorOptions options;
  options.max_new_tokens = 9;
  options.precision = model::Precision::fp32;
  options.seed = 5;
  options.sampling.temperature = 0.9;
  options.max_batch = 4;  // 15 sequences: they join in refills
  auto free_run = rollout::Generator(*m, *groups, options).generate(requests(3));
  options.stop_tokens = {free_run[0].tokens[1], free_run[4].tokens[3]};
  for (auto mode : {rollout::DecodeMode::compact, rollout::DecodeMode::slots}) {
    INFO("decode " << rollout::decode_mode_name(mode));
    options.decode = mode;
    rollout::Generator generator(*m, *groups, options);
    struct Report {
      size_t request;
      std::vector<rollout::Completion> completions;
      int64_t tokens_so_far;
    };
    std::vector<Report> reports;
    int64_t steps_heard = 0, reports_at_last_step = 0;
    auto out = generator.generate(
        requests(3),
        [&](size_t request, const rollout::Completion* first, size_t count) {
          reports.push_back({request, std::vector<rollout::Completion>(first, first + count),
                             generator.stats().generated_tokens});
        },
        [&] {
          ++steps_heard;
          reports_at_last_step = static_cast<int64_t>(reports.size());
        });
    // after_step: once per decode step and per refill (at most one per sequence), the last one
    // after every report.
    CHECK(steps_heard >= generator.stats().decode_steps);
    CHECK(steps_heard <= generator.stats().decode_steps + 15);
    CHECK(reports_at_last_step == 5);
    REQUIRE(reports.size() == 5);
    std::vector<int> times_seen(5, 0);
    for (const Report& r : reports) {
      INFO("request " << r.request);
      REQUIRE(r.request < 5);
      ++times_seen[r.request];
      REQUIRE(r.completions.size() == 3);
      for (size_t s = 0; s < 3; ++s) {
        const rollout::Completion& final_one = out[r.request * 3 + s];
        CHECK(r.completions[s].request == r.request);
        CHECK(r.completions[s].sample == static_cast<int64_t>(s));
        CHECK(r.completions[s].tokens == final_one.tokens);
        CHECK(r.completions[s].logprobs == final_one.logprobs);
        CHECK(r.completions[s].truncated == final_one.truncated);
      }
    }
    CHECK(times_seen == std::vector<int>(5, 1));
    // Reported as they finish, not at the end: the first report came while tokens were still
    // to be generated, and the reports follow the generation.
    int64_t total = 0;
    for (const auto& c : out) total += static_cast<int64_t>(c.tokens.size());
    CHECK(reports.front().tokens_so_far < total);
    for (size_t i = 1; i < reports.size(); ++i)
      CHECK(reports[i].tokens_so_far >= reports[i - 1].tokens_so_far);
  }
}
