// defines: `acerl generate`, sampling completions for a JSONL of prompts (data.path) or one
// prompt given with --prompt, through any parallel layout; writes JSONL with each completion's
// text, token count, mean entropy and finish reason.
#pragma once

#include <boost/program_options.hpp>

#include "cli/command.h"

namespace acerl::cli {

void add_generate_flags(boost::program_options::options_description& flags);
int run_generate(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
