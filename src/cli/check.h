// defines: run_check, `acerl --check [DIR]`: a job-wide probe of what acerl needs from the
// machine (MPI collectives, LibTorch compute, parallel HDF5) that users run once after an install
// or on a new partition, under srun/mpirun, before submitting real work.
#pragma once

#include <string>

#include "runtime/mpi_runtime.h"

namespace acerl::cli {

// Returns 0 when every probe passed on every rank, 1 otherwise (the failures are printed).
int run_check(MpiRuntime& runtime, const std::string& dir);

}  // namespace acerl::cli
