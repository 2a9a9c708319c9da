// defines: the glue between [rollout] and the generator: GeneratorOptions from the config and
// the tokenizer (stop tokens by name or id), prompt ids through the chat template, and the
// split of requests over data-parallel replicas with the gathering of their completions.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "data/prompt_dataset.h"
#include "parallel/process_groups.h"
#include "rollout/generator.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace acerl::rollout {

// rollout.stop ("<|im_end|>,<|endoftext|>" or ids) as token ids; unknown names are UsageErrors.
std::vector<int64_t> stop_token_ids(const std::string& stop, const tokenizer::Tokenizer& tok);
GeneratorOptions generator_options(const config::Config& config, const tokenizer::Tokenizer& tok,
                                   model::Precision precision);
// The prompt's token ids: through the chat template (with the task's instruction) or raw.
std::vector<int64_t> prompt_ids(const data::PromptRecord& record, const tokenizer::Tokenizer& tok,
                                const tokenizer::ChatTemplate& chat, bool use_chat);

// Share r's contiguous part [first, first + count) of n items split over `parts` (the first
// n % parts shares one longer), and the share that holds item i.
std::pair<size_t, size_t> share(size_t n, size_t parts, size_t r);
size_t share_owner(size_t n, size_t parts, size_t i);
// This replica's share of n items over the dp ranks.
std::pair<size_t, size_t> replica_share(size_t n, const parallel::ProcessGroups& groups);
// Completions of every replica, in request order, on every rank (they are small: token ids and
// per-token floats). `mine` are this replica's, for requests starting at `first`.
std::vector<Completion> gather_completions(const std::vector<Completion>& mine, size_t first,
                                           const parallel::ProcessGroups& groups);

}  // namespace acerl::rollout
