// defines: byte messages of unknown length between two ranks of an MPI communicator (sent as a
// uint8 tensor, e.g. by Communicator::isend), received whole by a matched probe (MPI_Improbe /
// MPI_Mprobe, then MPI_Mrecv): no size message first, and no other receive can take the message
// between the probe and the receive.
#pragma once

#include <mpi.h>
#include <torch/torch.h>

#include <optional>

namespace acerl::parallel {

// The next message from `source` with `tag` (or MPI_ANY_TAG: then `*received_tag` says which),
// as a uint8 tensor; waits for it under the collective watchdog (runtime/watchdog.h), which
// names the wait after `comm_name` (a string literal).
torch::Tensor receive_bytes(MPI_Comm comm, int source, int tag, int* received_tag = nullptr,
                            const char* comm_name = "");
// The same if one has arrived; nothing (at once) if none has.
std::optional<torch::Tensor> try_receive_bytes(MPI_Comm comm, int source, int tag);

}  // namespace acerl::parallel
