// defines: `acerl convert`, the checkpoint converter: initialise a random model from a
// config.json (--init), and rewrite safetensors checkpoints (dtype, sharding). Conversions to and
// from acerl's HDF5 checkpoints join here with the SFT trainer.
#pragma once

#include <boost/program_options.hpp>

#include "cli/command.h"

namespace acerl::cli {

void add_convert_flags(boost::program_options::options_description& flags);
int run_convert(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
