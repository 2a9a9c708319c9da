// Batched generation with KV cache, refill and compaction, through TP and PP; see generator.h.
#include "rollout/generator.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "parallel/pipeline_schedule.h"
#include "parallel/vocab_parallel.h"
#include "runtime/error.h"

namespace acerl::rollout {

double Completion::mean_entropy() const {
  if (entropies.empty()) return 0;
  return std::accumulate(entropies.begin(), entropies.end(), 0.0) /
         static_cast<double>(entropies.size());
}

Generator::Generator(model::Qwen2ForCausalLMImpl& model, const parallel::ProcessGroups& groups,
                     GeneratorOptions options)
    : model_(model), groups_(groups), options_(std::move(options)) {
  ACERL_USAGE_CHECK(options_.max_new_tokens >= 1, "max_new_tokens must be >= 1");
  ACERL_USAGE_CHECK(options_.max_batch >= 1,
                    "the generation batch must hold at least one sequence");
}

Generator::StepSamples Generator::forward_and_sample(
    const torch::Tensor& host_ids, const torch::Tensor& host_positions,
    const torch::Tensor& host_pick, model::KvCache& cache, const std::vector<Row>& rows,
    const std::vector<Completion>& out) {
  const auto& config = model_.config();
  const torch::Device device = model_.device();
  const int64_t B = host_ids.size(0), T = host_ids.size(1);
  const size_t n_curve = options_.entropy_temperatures.size();
  torch::Tensor ids = host_ids.to(device), positions = host_positions.to(device),
                pick = host_pick.to(device);
  torch::Tensor packed = torch::empty({B, 3 + static_cast<int64_t>(n_curve)}, torch::kFloat64);
  torch::Tensor logits = parallel::pipeline_forward(
      groups_, ids, {B, T, config.hidden_size}, torch::kFloat32, [&](const torch::Tensor& input) {
        model::AutocastScope autocast(options_.precision, device.type());
        auto inputs = model::cached_inputs(positions, cache, config);
        torch::Tensor hidden = model_.forward_hidden(input, inputs);
        if (!model_.stage().head) return hidden.to(torch::kFloat32);
        // Only the positions that are sampled go through the LM head.
        torch::Tensor last =
            hidden.gather(1, pick.view({B, 1, 1}).expand({B, 1, hidden.size(2)})).squeeze(1);
        return model_.head(last);  // (B, V/tp)
      });
  if (model_.stage().head) {
    std::vector<double> u;
    for (const Row& row : rows)
      u.push_back(
          stream_uniform(row.stream, static_cast<int64_t>(out[row.completion].tokens.size())));
    torch::Tensor uniforms = torch::tensor(u, torch::kFloat64);
    Sampled s = sample_vocab_parallel(logits, model_.vocab_start(), groups_.tp(), options_.sampling,
                                      uniforms);
    // One (B, 3 + curve) block where the logits are, then one copy to the host.
    std::vector<torch::Tensor> columns = {s.tokens.to(torch::kFloat64).unsqueeze(1),
                                          s.logprob.to(torch::kFloat64).unsqueeze(1),
                                          s.entropy.to(torch::kFloat64).unsqueeze(1)};
    if (n_curve)
      columns.push_back(parallel::vocab_parallel_entropies(logits, groups_.tp(),
                                                           options_.entropy_temperatures)
                            .to(torch::kFloat64));
    packed.copy_(torch::cat(columns, 1));
  }
  groups_.pp().broadcast(packed, groups_.pp().size() - 1);
  StepSamples samples;
  samples.tokens = packed.select(1, 0).to(torch::kInt64);
  samples.logprob = packed.select(1, 1).to(torch::kFloat32);
  samples.entropy = packed.select(1, 2).to(torch::kFloat32);
  if (n_curve) samples.curve = packed.narrow(1, 3, n_curve).to(torch::kFloat32).contiguous();
  return samples;
}

void Generator::record(const StepSamples& s, std::vector<Row>& rows, std::vector<Completion>& out) {
  const size_t n_curve = options_.entropy_temperatures.size();
  auto tokens = s.tokens.accessor<int64_t, 1>();
  auto logprob = s.logprob.accessor<float, 1>();
  auto entropy = s.entropy.accessor<float, 1>();
  for (size_t b = 0; b < rows.size(); ++b) {
    const auto i = static_cast<int64_t>(b);
    Completion& c = out[rows[b].completion];
    c.tokens.push_back(tokens[i]);
    c.logprobs.push_back(logprob[i]);
    c.entropies.push_back(entropy[i]);
    if (n_curve) {
      const float* curve = s.curve.data_ptr<float>() + i * static_cast<int64_t>(n_curve);
      c.entropy_curve.insert(c.entropy_curve.end(), curve, curve + n_curve);
    }
    rows[b].last_token = tokens[i];
    rows[b].position += 1;
  }
  stats_.generated_tokens += static_cast<int64_t>(rows.size());
}

std::vector<Completion> Generator::generate(const std::vector<GenerationRequest>& requests) {
  torch::NoGradGuard no_grad;
  // One autocast region for the whole call: the bf16 copies of the weights are made once and
  // reused by every step (each step's own scope nests inside and keeps the cache).
  model::AutocastScope autocast(options_.precision, model_.device().type());
  auto start = std::chrono::steady_clock::now();
  std::vector<Completion> out;
  int64_t longest_prompt = 1;
  for (size_t r = 0; r < requests.size(); ++r) {
    ACERL_USAGE_CHECK(!requests[r].prompt.empty(), "prompt '", requests[r].id, "' has no tokens");
    longest_prompt =
        std::max<int64_t>(longest_prompt, static_cast<int64_t>(requests[r].prompt.size()));
    for (int64_t s = 0; s < requests[r].samples; ++s) {
      Completion c;
      c.request = r;
      c.sample = s;
      out.push_back(std::move(c));
    }
  }
  const int64_t capacity = longest_prompt + options_.max_new_tokens;
  ACERL_USAGE_CHECK(
      capacity <= model_.config().max_position_embeddings, "prompt (", longest_prompt,
      " tokens) + max_new_tokens (", options_.max_new_tokens,
      ") exceeds max_position_embeddings = ", model_.config().max_position_embeddings);
  const auto cache_dtype = model::compute_dtype(options_.precision);
  auto finished = [&](const Row& row) {
    const Completion& c = out[row.completion];
    if (c.tokens.empty()) return false;
    if (std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(), c.tokens.back()) !=
        options_.stop_tokens.end())
      return true;
    return static_cast<int64_t>(c.tokens.size()) >= options_.max_new_tokens;
  };

  std::vector<Row> rows;
  model::KvCache cache;
  size_t next = 0;
  while (next < out.size() || !rows.empty()) {
    if (next < out.size() && static_cast<int64_t>(rows.size()) * 2 <= options_.max_batch) {
      // Refill: prefill the next waiting sequences as a right-padded block, join the batch.
      const size_t take =
          std::min(out.size() - next, static_cast<size_t>(options_.max_batch) - rows.size());
      std::vector<Row> fresh;
      int64_t width = 1;
      for (size_t i = 0; i < take; ++i) {
        const Completion& c = out[next + i];
        const auto& request = requests[c.request];
        fresh.push_back({next + i, sequence_stream(options_.seed, request.id, c.sample),
                         static_cast<int64_t>(request.prompt.size()), 0});
        width = std::max<int64_t>(width, static_cast<int64_t>(request.prompt.size()));
      }
      const int64_t B = static_cast<int64_t>(take);
      torch::Tensor ids = torch::zeros({B, width}, torch::kInt64);
      torch::Tensor positions = torch::arange(width).repeat({B, 1});
      torch::Tensor pick = torch::empty({B}, torch::kInt64);
      for (int64_t b = 0; b < B; ++b) {
        const auto& prompt = requests[out[fresh[static_cast<size_t>(b)].completion].request].prompt;
        ids[b]
            .narrow(0, 0, static_cast<int64_t>(prompt.size()))
            .copy_(torch::tensor(prompt, torch::kInt64));
        pick[b] = static_cast<int64_t>(prompt.size()) - 1;
      }
      model::KvCache fresh_cache = model_.new_cache(B, capacity, cache_dtype);
      StepSamples s = forward_and_sample(ids, positions, pick, fresh_cache, fresh, out);
      for (auto& row : fresh) row.position -= 1;  // record() advances past the last prompt token
      record(s, fresh, out);
      stats_.prefill_tokens += B * width;
      cache.append_rows(fresh_cache);
      rows.insert(rows.end(), fresh.begin(), fresh.end());
      next += take;
    } else {
      const int64_t B = static_cast<int64_t>(rows.size());
      std::vector<int64_t> last, where;
      for (const Row& row : rows) {
        last.push_back(row.last_token);
        where.push_back(row.position);
      }
      torch::Tensor ids = torch::tensor(last, torch::kInt64).view({B, 1});
      torch::Tensor positions = torch::tensor(where, torch::kInt64).view({B, 1});
      StepSamples s =
          forward_and_sample(ids, positions, torch::zeros({B}, torch::kInt64), cache, rows, out);
      record(s, rows, out);
      stats_.decode_steps += 1;
    }
    // Compaction: finished sequences leave the batch and the cache.
    std::vector<int64_t> keep;
    std::vector<Row> live;
    for (size_t b = 0; b < rows.size(); ++b) {
      if (finished(rows[b])) {
        Completion& c = out[rows[b].completion];
        c.truncated = std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(),
                                c.tokens.back()) == options_.stop_tokens.end();
      } else {
        keep.push_back(static_cast<int64_t>(b));
        live.push_back(rows[b]);
      }
    }
    if (live.size() != rows.size()) {
      if (live.empty()) {
        cache = model::KvCache();
      } else {
        cache.select_rows(torch::tensor(keep, torch::kInt64).to(model_.device()));
      }
      rows = std::move(live);
    }
  }
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace acerl::rollout
