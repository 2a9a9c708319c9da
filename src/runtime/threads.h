// defines: configure_threads: how many compute threads each rank's LibTorch/OpenMP pool uses.
// Ranks on one node share its cores: the default gives each rank cores / ranks-on-node, so
// `srun -n 4` on a 4-core node does not oversubscribe it 4x.
#pragma once

#include "runtime/mpi_runtime.h"

namespace acerl {

// `requested` > 0 wins; 0 means $OMP_NUM_THREADS when set, else hardware cores / local ranks.
// Returns the number applied.
int configure_threads(const MpiRuntime& runtime, int requested);

}  // namespace acerl
