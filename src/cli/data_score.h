// defines: `acerl data score`, offline scoring of JSONL records {"type", "response", "answer" |
// "tests"} with the same rewards RL uses: each output line is the input record with "score",
// "reason" (and "reward_detail" when there is one) added; a summary per type goes to stderr.
#pragma once

#include "cli/command.h"

namespace acerl::cli {

int run_score(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
