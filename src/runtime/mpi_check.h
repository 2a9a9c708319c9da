// defines: check_mpi, the one place an MPI return code becomes an exception. MPI runs with
// MPI_ERRORS_RETURN (runtime/mpi_runtime.cpp), so every call's code is checked through this:
// the message names the call, the communicator and this rank's place in it.
#pragma once

#include <mpi.h>

namespace acerl {

// Throws acerl::Error "MPI_Allreduce on 'dp' (rank 1 of 2) failed: <MPI's text>" unless
// rc == MPI_SUCCESS. `comm` may be MPI_COMM_NULL (then no communicator is named).
void check_mpi(int rc, const char* call, MPI_Comm comm = MPI_COMM_NULL);

}  // namespace acerl
