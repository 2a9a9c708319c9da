// acerl_fault_probe: a two-rank job in which one rank fails, to observe what the whole job does.
//   (no flag)  rank 1 throws while rank 0 waits in MPI_Barrier: expect both ranks gone within
//              seconds, exit code non-zero, "rank 1: error: injected failure" on stderr.
//   --agree    rank 1 throws a UsageError inside MpiRuntime::agree: expect one message, exit 2.
//   --agree-ok no rank throws: every rank prints "rank N passed agree" and the job exits 0.
#include <mpi.h>

#include <cstdio>
#include <string>

#include "runtime/error.h"
#include "runtime/mpi_runtime.h"

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  return acerl::run_main(argc, argv, [mode](acerl::MpiRuntime& runtime, int, char**) {
    if (mode == "--agree" || mode == "--agree-ok") {
      runtime.agree([&] {
        if (mode == "--agree" && runtime.rank() == 1)
          throw acerl::UsageError("injected config error");
      });
      std::printf("rank %d passed agree\n", runtime.rank());
      return 0;
    }
    if (runtime.rank() == 1) throw acerl::Error("injected failure");
    MPI_Barrier(runtime.world());  // rank 0 would wait here forever without the abort
    return 0;
  });
}
