// Matched-probe byte messages; see messages.h.
#include "parallel/messages.h"

#include "runtime/mpi_check.h"
#include "runtime/watchdog.h"

namespace acerl::parallel {
namespace {

torch::Tensor receive_matched(MPI_Comm comm, MPI_Message& message, MPI_Status& status) {
  int count = 0;
  check_mpi(MPI_Get_count(&status, MPI_UINT8_T, &count), "MPI_Get_count", comm);
  torch::Tensor bytes = torch::empty({count}, torch::kUInt8);
  check_mpi(MPI_Mrecv(bytes.data_ptr<uint8_t>(), count, MPI_UINT8_T, &message, MPI_STATUS_IGNORE),
            "MPI_Mrecv", comm);
  return bytes;
}

}  // namespace

torch::Tensor receive_bytes(MPI_Comm comm, int source, int tag, int* received_tag,
                            const char* comm_name) {
  MPI_Message message;
  MPI_Status status;
  CollectiveScope scope("MPI_Mprobe", comm_name);
  check_mpi(MPI_Mprobe(source, tag, comm, &message, &status), "MPI_Mprobe", comm);
  if (received_tag) *received_tag = status.MPI_TAG;
  return receive_matched(comm, message, status);
}

std::optional<torch::Tensor> try_receive_bytes(MPI_Comm comm, int source, int tag) {
  int arrived = 0;
  MPI_Message message;
  MPI_Status status;
  check_mpi(MPI_Improbe(source, tag, comm, &arrived, &message, &status), "MPI_Improbe", comm);
  if (!arrived) return std::nullopt;
  return receive_matched(comm, message, status);
}

}  // namespace acerl::parallel
