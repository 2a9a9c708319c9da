// defines: `acerl trace`, a look into a run's HDF5 trace without Python: phases, rows and the
// first/last/min/max of every metric, or one phase as CSV (--csv PHASE) for plotting tools.
#pragma once

#include <boost/program_options.hpp>

#include "cli/command.h"

namespace acerl::cli {

void add_trace_flags(boost::program_options::options_description& flags);
int run_trace(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
