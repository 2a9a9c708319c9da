// Batched generation with KV cache: compacting or fixed-slot decode (with CUDA graphs), refill,
// through TP and PP; see generator.h.
#include "rollout/generator.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <optional>

#include "parallel/pipeline_schedule.h"
#include "parallel/vocab_parallel.h"
#include "rollout/decode_graphs.h"
#include "runtime/error.h"
#include "runtime/host_block_cache.h"

namespace acerl::rollout {

double Completion::mean_entropy() const {
  if (entropies.empty()) return 0;
  return std::accumulate(entropies.begin(), entropies.end(), 0.0) /
         static_cast<double>(entropies.size());
}

DecodeMode parse_decode_mode(const std::string& name) {
  if (name == "compact") return DecodeMode::compact;
  if (name == "slots") return DecodeMode::slots;
  if (name == "graphs") return DecodeMode::graphs;
  throw UsageError(str("decode mode '", name, "' is not one of compact, slots, graphs"));
}

const char* decode_mode_name(DecodeMode mode) {
  switch (mode) {
    case DecodeMode::compact: return "compact";
    case DecodeMode::slots: return "slots";
    case DecodeMode::graphs: return "graphs";
  }
  return "?";
}

Generator::Generator(model::Qwen2ForCausalLMImpl& model, const parallel::ProcessGroups& groups,
                     GeneratorOptions options)
    : model_(model), groups_(groups), options_(std::move(options)) {
  ACERL_USAGE_CHECK(options_.max_new_tokens >= 1, "max_new_tokens must be >= 1");
  ACERL_USAGE_CHECK(options_.max_batch >= 1,
                    "the generation batch must hold at least one sequence");
}

void Generator::sample_into(const torch::Tensor& logits, const torch::Tensor& uniforms,
                            torch::Tensor packed) {
  Sampled s = sample_vocab_parallel(logits, model_.vocab_start(), groups_.tp(), options_.sampling,
                                    uniforms);
  std::vector<torch::Tensor> columns = {s.tokens.to(torch::kFloat64).unsqueeze(1),
                                        s.logprob.to(torch::kFloat64).unsqueeze(1),
                                        s.entropy.to(torch::kFloat64).unsqueeze(1)};
  if (!options_.entropy_temperatures.empty())
    columns.push_back(
        parallel::vocab_parallel_entropies(logits, groups_.tp(), options_.entropy_temperatures)
            .to(torch::kFloat64));
  packed.copy_(torch::cat(columns, 1));
}

Generator::StepSamples Generator::forward_and_sample(const torch::Tensor& host_ids,
                                                     const torch::Tensor& host_positions,
                                                     const torch::Tensor& host_pick,
                                                     const torch::Tensor& uniforms,
                                                     model::KvCache& cache,
                                                     const torch::Tensor& host_expand) {
  const auto& config = model_.config();
  const torch::Device device = model_.device();
  const int64_t B = host_ids.size(0), T = host_ids.size(1);
  torch::Tensor ids = host_ids.to(device), positions = host_positions.to(device),
                pick = host_pick.to(device);
  torch::Tensor expand = host_expand.defined() ? host_expand.to(device) : torch::Tensor();
  const int64_t rows = expand.defined() ? expand.size(0) : B;
  torch::Tensor packed = torch::empty(
      {rows, 3 + static_cast<int64_t>(options_.entropy_temperatures.size())}, torch::kFloat64);
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
  if (expand.defined()) {
    cache.select_rows(expand);  // every stage: its layers' rows, one per sampled row
    if (model_.stage().head) logits = logits.index_select(0, expand);
  }
  // One (rows, 3 + curve) block where the logits are, then one copy to the host.
  if (model_.stage().head) sample_into(logits, uniforms, packed);
  groups_.pp().broadcast(packed, groups_.pp().size() - 1);
  return unpack(packed);
}

Generator::StepSamples Generator::unpack(const torch::Tensor& packed) const {
  const auto n_curve = static_cast<int64_t>(options_.entropy_temperatures.size());
  StepSamples samples;
  samples.tokens = packed.select(1, 0).to(torch::kInt64);
  samples.logprob = packed.select(1, 1).to(torch::kFloat32);
  samples.entropy = packed.select(1, 2).to(torch::kFloat32);
  if (n_curve) samples.curve = packed.narrow(1, 3, n_curve).to(torch::kFloat32).contiguous();
  return samples;
}

torch::Tensor Generator::uniforms(const std::vector<Row>& rows,
                                  const std::vector<Completion>& out) const {
  std::vector<double> u;
  for (const Row& row : rows)
    u.push_back(
        stream_uniform(row.stream, static_cast<int64_t>(out[row.completion].tokens.size())));
  return torch::tensor(u, torch::kFloat64);
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

bool Generator::finished(const Row& row, std::vector<Completion>& out) const {
  Completion& c = out[row.completion];
  if (c.tokens.empty()) return false;
  const bool stopped = std::find(options_.stop_tokens.begin(), options_.stop_tokens.end(),
                                 c.tokens.back()) != options_.stop_tokens.end();
  if (!stopped && static_cast<int64_t>(c.tokens.size()) < options_.max_new_tokens) return false;
  c.truncated = !stopped;
  return true;
}

model::KvCache Generator::prefill(const std::vector<GenerationRequest>& requests,
                                  std::vector<Row>& fresh, int64_t capacity,
                                  std::vector<Completion>& out) {
  // The rows computed: every fresh row, or (shared_prefill) the first row of each request.
  std::vector<size_t> computed;
  std::vector<int64_t> expand;  // fresh row -> its computed row
  std::map<size_t, int64_t> row_of_request;
  for (size_t i = 0; i < fresh.size(); ++i) {
    const size_t request = out[fresh[i].completion].request;
    auto [at, added] =
        row_of_request.emplace(request, static_cast<int64_t>(computed.size()));
    if (added || !options_.shared_prefill) {
      at->second = static_cast<int64_t>(computed.size());
      computed.push_back(i);
    }
    expand.push_back(at->second);
  }
  const int64_t B = static_cast<int64_t>(computed.size());
  int64_t width = 1;
  for (size_t i : computed) width = std::max(width, fresh[i].position);
  torch::Tensor ids = torch::zeros({B, width}, torch::kInt64);
  torch::Tensor positions = torch::arange(width).repeat({B, 1});
  torch::Tensor pick = torch::empty({B}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    const auto& prompt =
        requests[out[fresh[computed[static_cast<size_t>(b)]].completion].request].prompt;
    ids[b].narrow(0, 0, static_cast<int64_t>(prompt.size()))
        .copy_(torch::tensor(prompt, torch::kInt64));
    pick[b] = static_cast<int64_t>(prompt.size()) - 1;
  }
  model::KvCache cache = model_.new_cache(B, capacity, model::compute_dtype(options_.precision));
  const bool shared = B < static_cast<int64_t>(fresh.size());
  StepSamples s = forward_and_sample(ids, positions, pick, uniforms(fresh, out), cache,
                                     shared ? torch::tensor(expand, torch::kInt64) : torch::Tensor());
  for (auto& row : fresh) row.position -= 1;  // record() advances past the last prompt token
  record(s, fresh, out);
  stats_.prefill_tokens += B * width;
  return cache;
}

void Generator::retire(const Row& row, const std::vector<Completion>& out) {
  const size_t request = out[row.completion].request;
  if (--unfinished_[request] > 0 || !on_done_) return;
  const size_t first = first_of_[request];
  size_t count = 0;
  while (first + count < out.size() && out[first + count].request == request) ++count;
  on_done_(request, &out[first], count);
}

std::vector<Completion> Generator::generate(const std::vector<GenerationRequest>& requests,
                                            const RequestDone& on_done,
                                            const std::function<void()>& after_step) {
  torch::NoGradGuard no_grad;
  // One autocast region for the whole call: the bf16 copies of the weights are made once and
  // reused by every step (each step's own scope nests inside and keeps the cache).
  model::AutocastScope autocast(options_.precision, model_.device().type());
  // On the CPU every step allocates the same sizes again: they come from the block cache after
  // the first steps instead of from malloc (and fresh pages).
  std::optional<HostBlockCacheScope> host_cache;
  if (model_.device().is_cpu()) host_cache.emplace();
  const HostBlockCacheStats host_before = host_block_cache_stats();
  auto start = std::chrono::steady_clock::now();
  std::vector<Completion> out;
  int64_t longest_prompt = 1;
  on_done_ = on_done;
  after_step_ = after_step;
  first_of_.assign(requests.size(), 0);
  unfinished_.assign(requests.size(), 0);
  for (size_t r = 0; r < requests.size(); ++r) {
    ACERL_USAGE_CHECK(!requests[r].prompt.empty(), "prompt '", requests[r].id, "' has no tokens");
    longest_prompt =
        std::max<int64_t>(longest_prompt, static_cast<int64_t>(requests[r].prompt.size()));
    first_of_[r] = out.size();
    unfinished_[r] = requests[r].samples;
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
  if (options_.decode == DecodeMode::compact)
    decode_compact(requests, capacity, out);
  else
    decode_slots(requests, capacity, out);
  const HostBlockCacheStats host_after = host_block_cache_stats();
  stats_.host_allocations += host_after.misses - host_before.misses;
  stats_.host_block_reuses += host_after.hits - host_before.hits;
  on_done_ = nullptr;
  after_step_ = nullptr;
  stats_.seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::vector<Generator::Row> Generator::waiting_rows(const std::vector<GenerationRequest>& requests,
                                                    const std::vector<Completion>& out,
                                                    size_t next, size_t room) const {
  std::vector<Row> fresh;
  for (size_t i = next; i < std::min(out.size(), next + room); ++i) {
    const auto& request = requests[out[i].request];
    fresh.push_back({i, sequence_stream(options_.seed, request.id, out[i].sample),
                     static_cast<int64_t>(request.prompt.size()), 0});
  }
  return fresh;
}

void Generator::decode_compact(const std::vector<GenerationRequest>& requests, int64_t capacity,
                               std::vector<Completion>& out) {
  std::vector<Row> rows;
  model::KvCache cache;
  size_t next = 0;
  while (next < out.size() || !rows.empty()) {
    if (next < out.size() && static_cast<int64_t>(rows.size()) * 2 <= options_.max_batch) {
      // Refill: prefill the next waiting sequences as a right-padded block, join the batch.
      std::vector<Row> fresh =
          waiting_rows(requests, out, next, static_cast<size_t>(options_.max_batch) - rows.size());
      cache.append_rows(prefill(requests, fresh, capacity, out));
      rows.insert(rows.end(), fresh.begin(), fresh.end());
      next += fresh.size();
    } else {
      const int64_t B = static_cast<int64_t>(rows.size());
      std::vector<int64_t> last, where;
      for (const Row& row : rows) {
        last.push_back(row.last_token);
        where.push_back(row.position);
      }
      torch::Tensor ids = torch::tensor(last, torch::kInt64).view({B, 1});
      torch::Tensor positions = torch::tensor(where, torch::kInt64).view({B, 1});
      StepSamples s = forward_and_sample(ids, positions, torch::zeros({B}, torch::kInt64),
                                         uniforms(rows, out), cache);
      record(s, rows, out);
      stats_.decode_steps += 1;
    }
    // Compaction: finished sequences leave the batch and the cache; the live rows past the
    // new batch size move into their places (a row's tokens do not depend on its place).
    std::vector<bool> done(rows.size());
    size_t live = 0;
    for (size_t b = 0; b < rows.size(); ++b) {
      done[b] = finished(rows[b], out);
      live += !done[b];
      if (done[b]) retire(rows[b], out);
    }
    if (live == 0) {
      rows.clear();
      cache = model::KvCache();
    } else if (live != rows.size()) {
      std::vector<int64_t> from, to;
      size_t mover = live;
      for (size_t hole = 0; hole < live; ++hole) {
        if (!done[hole]) continue;
        while (done[mover]) ++mover;
        from.push_back(static_cast<int64_t>(mover));
        to.push_back(static_cast<int64_t>(hole));
        rows[hole] = rows[mover++];
      }
      rows.resize(live);
      cache.move_rows(from, to, static_cast<int64_t>(live));
    }
    if (after_step_) after_step_();
  }
}

void Generator::decode_slots(const std::vector<GenerationRequest>& requests, int64_t capacity,
                             std::vector<Completion>& out) {
  const auto& config = model_.config();
  const torch::Device device = model_.device();
  const int64_t S = options_.max_batch;
  const auto n_out = 3 + static_cast<int64_t>(options_.entropy_temperatures.size());
  const bool last_stage = model_.stage().head;
  const bool graphs = options_.decode == DecodeMode::graphs && DecodeGraphs::available() &&
                      device.is_cuda() && groups_.tp().size() == 1 && groups_.pp().size() == 1 &&
                      options_.sampling.top_p >= 1.0;  // the nucleus search reads back
  // The step's inputs and outputs stay at these addresses for the whole call (a graph's replay
  // reads and writes them); a step of bucket n uses their first n rows.
  auto on_device = [&](torch::ScalarType t) {
    return torch::TensorOptions().dtype(t).device(device);
  };
  torch::Tensor step_ids = torch::zeros({S, 1}, on_device(torch::kInt64));
  torch::Tensor step_positions = torch::zeros({S, 1}, on_device(torch::kInt64));
  torch::Tensor step_uniforms = torch::full({S}, 0.5, on_device(torch::kFloat64));
  torch::Tensor step_out = torch::zeros({S, n_out}, on_device(torch::kFloat64));
  model::KvCache cache = model_.new_cache(S, capacity, model::compute_dtype(options_.precision));
  std::optional<DecodeGraphs> graph_set;
  if (graphs) graph_set.emplace(device);

  auto step = [&](int64_t n) {
    torch::Tensor ids = step_ids.narrow(0, 0, n), positions = step_positions.narrow(0, 0, n);
    model::KvCache view{cache.k.narrow(1, 0, n), cache.v.narrow(1, 0, n)};
    torch::Tensor logits = parallel::pipeline_forward(
        groups_, ids, {n, 1, config.hidden_size}, torch::kFloat32,
        [&](const torch::Tensor& input) {
          model::AutocastScope autocast(options_.precision, device.type());
          auto inputs = model::slot_inputs(positions, view, config);
          torch::Tensor hidden = model_.forward_hidden(input, inputs);
          if (!last_stage) return hidden.to(torch::kFloat32);
          return model_.head(hidden.squeeze(1));  // (n, V/tp)
        });
    if (last_stage) sample_into(logits, step_uniforms.narrow(0, 0, n), step_out.narrow(0, 0, n));
  };

  std::vector<std::optional<Row>> slots(static_cast<size_t>(S));
  int64_t busy = 0;
  size_t next = 0;
  while (next < out.size() || busy > 0) {
    if (next < out.size() && busy * 2 <= S) {
      // Refill the lowest free slots: prefill as the compacting decode does, then move each new
      // sequence's cache row into its slot.
      std::vector<Row> fresh = waiting_rows(requests, out, next, static_cast<size_t>(S - busy));
      model::KvCache block = prefill(requests, fresh, capacity, out);
      std::vector<int64_t> free_slots;
      for (int64_t s = 0; s < S && free_slots.size() < fresh.size(); ++s)
        if (!slots[static_cast<size_t>(s)]) free_slots.push_back(s);
      torch::Tensor where = torch::tensor(free_slots, torch::kInt64).to(device);
      cache.k.index_copy_(1, where, block.k);
      cache.v.index_copy_(1, where, block.v);
      for (size_t i = 0; i < fresh.size(); ++i)
        slots[static_cast<size_t>(free_slots[i])] = fresh[i];
      busy += static_cast<int64_t>(fresh.size());
      next += fresh.size();
    } else {
      int64_t top = 0;
      for (int64_t s = 0; s < S; ++s)
        if (slots[static_cast<size_t>(s)]) top = s + 1;
      int64_t n = 1;
      while (n < top) n *= 2;
      n = std::min(n, S);
      // Host values of the step; a free slot feeds token 0 at position 0 and is not recorded.
      torch::Tensor ids = torch::zeros({n, 1}, torch::kInt64);
      torch::Tensor positions = torch::zeros({n, 1}, torch::kInt64);
      torch::Tensor u = torch::full({n}, 0.5, torch::kFloat64);
      auto id_at = ids.accessor<int64_t, 2>(), position_at = positions.accessor<int64_t, 2>();
      std::vector<Row> live;
      std::vector<int64_t> live_slots;
      for (int64_t s = 0; s < n; ++s) {
        const auto& slot = slots[static_cast<size_t>(s)];
        if (!slot) continue;
        id_at[s][0] = slot->last_token;
        position_at[s][0] = slot->position;
        live.push_back(*slot);
        live_slots.push_back(s);
      }
      u.index_copy_(0, torch::tensor(live_slots, torch::kInt64), uniforms(live, out));
      step_ids.narrow(0, 0, n).copy_(ids);
      step_positions.narrow(0, 0, n).copy_(positions);
      step_uniforms.narrow(0, 0, n).copy_(u);
      if (graph_set) {
        if (graph_set->run(n, [&] { step(n); }))
          stats_.graph_replays += 1;
        else
          stats_.graph_captures += 1;
      } else {
        step(n);
      }
      torch::Tensor packed = last_stage ? step_out.narrow(0, 0, n).to(torch::kCPU)
                                        : torch::empty({n, n_out}, torch::kFloat64);
      groups_.pp().broadcast(packed, groups_.pp().size() - 1);
      StepSamples all = unpack(packed);
      torch::Tensor index = torch::tensor(live_slots, torch::kInt64);
      StepSamples mine{all.tokens.index_select(0, index), all.logprob.index_select(0, index),
                       all.entropy.index_select(0, index),
                       all.curve.defined() ? all.curve.index_select(0, index).contiguous()
                                           : torch::Tensor()};
      record(mine, live, out);
      for (size_t i = 0; i < live.size(); ++i) slots[static_cast<size_t>(live_slots[i])] = live[i];
      stats_.decode_steps += 1;
    }
    // Finished sequences free their slots.
    for (auto& slot : slots)
      if (slot && finished(*slot, out)) {
        retire(*slot, out);
        slot.reset();
        busy -= 1;
      }
    if (after_step_) after_step_();
  }
}

}  // namespace acerl::rollout
