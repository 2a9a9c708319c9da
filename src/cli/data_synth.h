// defines: `acerl data synth`, writing the quickstart's synthetic task (data/synthetic_task.h).
#pragma once

#include <boost/program_options.hpp>

#include "cli/command.h"

namespace acerl::cli {

void add_synth_flags(boost::program_options::options_description& flags);
int run_synth(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
