// The Catch2 runner of acerl_tests. MPI is initialised only when the process was started by a
// launcher (mpiexec/srun): plain unit tests then stay free to spawn mpiexec themselves.
#define CATCH_CONFIG_RUNNER
#include <mpi.h>
#include "support/catch.h"

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

#include "runtime/mpi_runtime.h"
#include "support/process.h"

// The GPU tests ("[gpu]") need a CUDA device; without one the run exits 77, which CTest reports
// as skipped (SKIP_RETURN_CODE), never as passed.
constexpr int kSkipped = 77;

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strstr(argv[i], "[gpu]") && torch::cuda::device_count() == 0) {
      std::cout << "skipped: the [gpu] tests need a CUDA device and none is visible"
#if !ACERL_WITH_CUDA
                << " (and this build has ACERL_WITH_CUDA=OFF)"
#endif
                << "\n";
      return kSkipped;
    }
  }
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
