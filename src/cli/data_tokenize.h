// defines: `acerl data tokenize`, the command-line face of the tokenizer: UTF-8 text -> JSON
// arrays of token ids (whole input or one per line), and back with --decode.
#pragma once

#include <boost/program_options.hpp>

#include "cli/command.h"

namespace acerl::cli {

void add_tokenize_flags(boost::program_options::options_description& flags);
int run_tokenize(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
