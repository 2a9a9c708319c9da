// defines: the NCCL backend of Communicator, for CUDA tensors (built with ACERL_WITH_NCCL).
// The NCCL unique id travels from rank 0 by MPI_Bcast over the given MPI communicator, which is
// also kept for barriers and metadata. Collectives are enqueued on the current CUDA stream;
// blocking calls synchronise it, non-blocking ones return a request that waits on an event.
#pragma once

#include <mpi.h>

#include <memory>

#include "parallel/communicator.h"

namespace acerl::parallel {

// Collective over `comm`; takes ownership of it. CUDA device selection is the caller's.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm);

}  // namespace acerl::parallel
