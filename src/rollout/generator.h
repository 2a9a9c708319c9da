// defines: Generator, batched sampling of completions with a preallocated KV cache, through
// tensor and pipeline parallelism, and its inputs/outputs (GenerationRequest, Completion).
// Sequences finish independently (stop token or max_new_tokens); finished rows leave the batch
// and waiting sequences are prefilled into it when it has shrunk to half, so compute follows
// the live sequences. Every generated token carries its log-prob under the distribution it was
// sampled from and the entropy of softmax(logits / T), optionally at more temperatures.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "model/precision.h"
#include "model/qwen2.h"
#include "parallel/process_groups.h"
#include "rollout/sampler.h"

namespace acerl::rollout {

struct GenerationRequest {
  std::string id;               // prompt id: with the sample index, names the random stream
  std::vector<int64_t> prompt;  // token ids
  int64_t samples = 1;          // completions of this prompt
};

struct Completion {
  size_t request = 0;  // index into the requests
  int64_t sample = 0;
  std::vector<int64_t> tokens;       // generated tokens (a stop token, if any, is the last)
  std::vector<float> logprobs;       // per token
  std::vector<float> entropies;      // per token, at the sampling temperature
  std::vector<float> entropy_curve;  // tokens x entropy_temperatures, row-major (when requested)
  bool truncated = false;            // stopped by max_new_tokens, not by a stop token
  const char* finish_reason() const { return truncated ? "length" : "stop"; }
  double mean_entropy() const;
};

// How decode steps hold the batch (rollout.decode):
//   compact  finished sequences leave the batch and the KV cache after every step, so compute
//            follows the live sequences (the default)
//   slots    max_batch fixed slots, one KV-cache row each: a finished sequence frees its slot and a
//            refill prefills into free slots; a step runs slots [0, n), n = the highest busy slot
//            + 1 rounded up to a power of two (the bucket), attending over the whole capacity, with
//            no read-back to the host inside the step
//   graphs   slots, each bucket's step captured once per generate() call as a CUDA graph and
//            replayed (a CUDA model with tp = pp = 1 and top_p = 1, whose step has no host
//            synchronisation; anywhere else it runs as slots)
// The three give the same tokens (tested).
enum class DecodeMode { compact, slots, graphs };
DecodeMode parse_decode_mode(const std::string& name);  // UsageError naming the valid ones
const char* decode_mode_name(DecodeMode mode);

struct GeneratorOptions {
  SamplingParams sampling;
  int64_t max_new_tokens = 256;
  std::vector<int64_t> stop_tokens;
  int64_t max_batch = 64;                    // sequences decoded together
  std::vector<double> entropy_temperatures;  // extra temperatures for the entropy curve
  uint64_t seed = 0;
  model::Precision precision = model::Precision::bf16;
  DecodeMode decode = DecodeMode::compact;
  bool shared_prefill = true;  // one prefill per prompt for its samples that join together
};

struct GenerationStats {
  int64_t generated_tokens = 0;
  int64_t prefill_tokens = 0;
  int64_t decode_steps = 0;
  int64_t graph_captures = 0;  // decode steps captured as CUDA graphs (one per bucket and call)
  int64_t graph_replays = 0;   // decode steps run as a replay
  // CPU: host blocks the call's tensors took from the system allocator and from the block cache
  // (runtime/host_block_cache) the call runs in.
  int64_t host_allocations = 0, host_block_reuses = 0;
  double seconds = 0;
};

// Called when the last sample of a request finishes, with that request's completions (final,
// `count` of them, in sample order), between decode steps, in the order requests finish: the same
// order on every rank of the replica (they all record the same tokens).
using RequestDone = std::function<void(size_t request, const Completion* completions, size_t count)>;

class Generator {
 public:
  Generator(model::Qwen2ForCausalLMImpl& model, const parallel::ProcessGroups& groups,
            GeneratorOptions options);
  // Collective over this replica's TP and PP ranks (each data-parallel replica generates its own
  // requests); every rank returns all completions, ordered by (request, sample). `on_done`, if
  // given, hears of each request as soon as its samples are all finished; `after_step`, if given,
  // runs after every decode step and every refill (after on_done's calls for it).
  std::vector<Completion> generate(const std::vector<GenerationRequest>& requests,
                                   const RequestDone& on_done = nullptr,
                                   const std::function<void()>& after_step = nullptr);
  const GenerationStats& stats() const { return stats_; }

 private:
  struct Row {
    size_t completion;  // index into the output
    uint64_t stream;
    int64_t position;  // of the next token to feed
    int64_t last_token;
  };
  struct StepSamples {
    torch::Tensor tokens, logprob, entropy, curve;
  };
  // Runs the model over `ids` at `positions` (host tensors, moved to the model's device) through
  // the pipeline stages, and on the last stage samples one token per row from the logits at
  // `pick` (the position within each row) with `uniforms`; every rank of the replica receives
  // the samples. `expand` (host int64, one entry per sampled row; undefined = the identity)
  // says which computed row each sampled row takes its logits and cache row from: the samples of
  // a shared prefill.
  StepSamples forward_and_sample(const torch::Tensor& ids, const torch::Tensor& positions,
                                 const torch::Tensor& pick, const torch::Tensor& uniforms,
                                 model::KvCache& cache,
                                 const torch::Tensor& expand = torch::Tensor());
  // The host block (B, 3 + curve) of a step as tokens, log-probs, entropies and the curve.
  StepSamples unpack(const torch::Tensor& packed) const;
  // Samples one token per row of `logits` (B, V/tp) and writes the (B, 3 + curve) block of
  // tokens, log-probs, entropies and curve into `packed`, on the logits' device.
  void sample_into(const torch::Tensor& logits, const torch::Tensor& uniforms,
                   torch::Tensor packed);
  // The uniform of each row's next token.
  torch::Tensor uniforms(const std::vector<Row>& rows, const std::vector<Completion>& out) const;
  // The rows of the waiting sequences out[next, next + room) (fewer at the end), not yet prefilled.
  std::vector<Row> waiting_rows(const std::vector<GenerationRequest>& requests,
                                const std::vector<Completion>& out, size_t next, size_t room) const;
  // Prefills `fresh` (their prompts right-padded into one block) into a new cache of their own;
  // with shared_prefill, each distinct request among them is computed once.
  model::KvCache prefill(const std::vector<GenerationRequest>& requests, std::vector<Row>& fresh,
                         int64_t capacity, std::vector<Completion>& out);
  void record(const StepSamples& s, std::vector<Row>& rows, std::vector<Completion>& out);
  void decode_compact(const std::vector<GenerationRequest>& requests, int64_t capacity,
                      std::vector<Completion>& out);
  void decode_slots(const std::vector<GenerationRequest>& requests, int64_t capacity,
                    std::vector<Completion>& out);
  bool finished(const Row& row, std::vector<Completion>& out) const;
  // A finished row: the request's count of unfinished samples drops, and at 0 on_done_ hears.
  void retire(const Row& row, const std::vector<Completion>& out);

  model::Qwen2ForCausalLMImpl& model_;
  const parallel::ProcessGroups& groups_;
  GeneratorOptions options_;
  GenerationStats stats_;
  // During generate(): the caller's callbacks, each request's first completion and unfinished
  // samples.
  RequestDone on_done_;
  std::function<void()> after_step_;
  std::vector<size_t> first_of_;
  std::vector<int64_t> unfinished_;
};

}  // namespace acerl::rollout
