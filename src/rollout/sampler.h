// defines: token sampling from vocab-parallel logits (temperature, top-k, top-p, greedy) and the
// per-sequence random streams that make a sequence's tokens independent of batch size, batch
// order and parallel layout.
//
// Sampling is by inverse CDF over the global token order: with the kept probabilities p_j of
// softmax(logits / T) (top-k/top-p truncated), the token is the first j whose cumulative mass
// reaches u * sum(p) for one uniform u per sequence and step. Each TP rank holds a contiguous
// vocab range, so it needs only the masses of the ranks before it (3 numbers per row move, never
// the vocabulary), and the pick depends on u and the logits alone.
// Truncation is a threshold on z = logits / T: top-k keeps z >= the k-th largest z (gathered
// from each rank's local top-k), top-p keeps the smallest set of largest z whose mass reaches
// top_p (ties at the boundary kept), found from each rank's local top candidates, or by
// bisection over the whole shard when the candidates do not cover the nucleus.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string_view>

#include "parallel/communicator.h"

namespace acerl::rollout {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy (argmax, lowest id on ties)
  double top_p = 1.0;        // 1: no nucleus truncation
  int64_t top_k = 0;         // 0: no top-k truncation
};

struct Sampled {
  torch::Tensor tokens;   // (B) int64 global token ids
  torch::Tensor logprob;  // (B) float32, log-prob under the (truncated) distribution sampled from
  torch::Tensor entropy;  // (B) float32, entropy of softmax(logits / T) (0 for greedy)
};

// logits (B, V/tp) of this TP rank's vocab range starting at vocab_start; uniforms (B) float64 in
// [0, 1). Collective over `tp`; every TP rank returns the same result.
Sampled sample_vocab_parallel(const torch::Tensor& logits, int64_t vocab_start,
                              parallel::Communicator& tp, const SamplingParams& params,
                              const torch::Tensor& uniforms);

// The random stream of one sequence: a 64-bit key from (seed, prompt id, sample index).
uint64_t sequence_stream(uint64_t seed, std::string_view prompt_id, int64_t sample_index);
// The uniform in [0, 1) of `stream` at decoding step `step` (counter-based: no state).
double stream_uniform(uint64_t stream, int64_t step);

}  // namespace acerl::rollout
