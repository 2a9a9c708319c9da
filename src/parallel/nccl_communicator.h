// defines: the NCCL backend of Communicator, for CUDA tensors (built with ACERL_WITH_NCCL).
// The NCCL communicator is created at its first operation (all ranks of an axis reach it at the
// same point of the SPMD program): the unique id travels from rank 0 by MPI_Bcast over the
// given MPI communicator, so axes a job never uses for device tensors cost no GPU memory.
// Every operation runs on the communicator's own stream, ordered after the work already queued
// on the caller's (compute) stream by an event; blocking calls make the compute stream wait for
// the result (the host never waits), non-blocking ones return a request whose wait() does so.
// A monitor thread polls ncclCommGetAsyncError and the age of every pending operation: an NCCL
// error, or an operation older than the timeout, aborts the whole job naming the rank, the
// communicator and the operation.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace acerl::parallel {

struct NcclOptions {
  std::string name = "nccl";  // the axis, for messages
  double timeout_s = 1800;    // run.collective_timeout_s; 0 = no timeout (errors still abort)
  // Point-to-point lanes: tag t (clamped to [0, lanes)) gets its own NCCL communicator and
  // stream, so that traffic in two directions (pipeline activations, tag 0, and gradients,
  // tag 1) never queues behind itself. Collectives use lane 0.
  int lanes = 1;
};

// Collective over `comm` at the first operation; takes ownership of `comm`. The current CUDA
// device when it is created is the communicator's device.
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, NcclOptions options = {});

}  // namespace acerl::parallel
