// defines: Rollout (one sampled response with its per-token log-probs and entropies, reward and
// advantage) and the learner's view of a batch of them: group advantages assigned per prompt,
// and the rollouts packed as documents (prompt + response) into rows whose targets carry loss
// weight (response tokens; 0 for truncated responses under overlong filtering), advantage and
// the rollout's sampling log-prob.
#pragma once

#include <string>
#include <vector>

#include "data/packed_rows.h"
#include "io/bytes.h"

namespace acerl::rl {

struct Rollout {
  size_t prompt = 0;  // index into the stage's prompt list
  int64_t sample = 0;
  std::vector<int64_t> prompt_ids, tokens;
  std::vector<float> logprobs, entropies, curve;  // curve: tokens x entropy grid, row-major
  bool truncated = false;
  double reward = 0;
  std::string reason;
  float advantage = 0;
};

// Rollouts as a flat message between ranks (the split layout's batches): every field, exact bits.
void write_rollouts(io::ByteWriter& out, const std::vector<Rollout>& rollouts);
std::vector<Rollout> read_rollouts(io::ByteReader& in);

// Rollouts come in groups of `group_size` consecutive entries (one prompt each).
void assign_advantages(std::vector<Rollout>& rollouts, int64_t group_size, double eps);

// Learner rows of the rollouts, packed first fit decreasing as documents into rows of `seq_len`
// tokens (seq_len >= the longest prompt + response), or as wide as the longest document; the
// row count is padded with empty rows to a positive multiple of `multiple`. A document is one
// rollout (prompt + response), or with `shared_prefix` the consecutive rollouts of one prompt (a
// group): the prompt's first p - 1 tokens once, then for each rollout a branch of the last prompt
// token and the response (segment_ids 1, 2, ...), which attends to the prefix and to itself
// only: the same tokens, positions and attention as separate rows, with the prompt computed once.
// A group whose document would be wider than max(seq_len, 512) tokens is split into several,
// each with its own copy of the prefix (a packed row's attention is dense: wider rows cost
// more attention than the prompt tokens they save).
data::PackedRows learner_rows(const std::vector<Rollout>& rollouts, int64_t seq_len,
                               bool overlong_filter, int64_t multiple, bool shared_prefix = false);

}  // namespace acerl::rl
