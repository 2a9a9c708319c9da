// The Catch2 runner of acerl_tests. MPI is initialised only when the process was started by a
// launcher (mpiexec/srun): plain unit tests then stay free to spawn mpiexec themselves.
#define CATCH_CONFIG_RUNNER
#include <mpi.h>
#include "support/catch.h"

#include <cstdlib>
#include <optional>

#include "runtime/mpi_runtime.h"
#include "support/process.h"

int main(int argc, char** argv) {
  std::optional<acerl::MpiRuntime> runtime;
  if (acerl::test::launched_by_mpi()) runtime.emplace(argc, argv);
  Catch::Session session;
  if (int rc = session.applyCommandLine(argc, argv)) return rc;
  int failed = session.run();
  if (runtime && runtime->size() > 1) {
    // A failure on any rank fails the test on all ranks, so CTest sees it whatever rank 0 saw.
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  }
  return failed ? 1 : 0;
}
