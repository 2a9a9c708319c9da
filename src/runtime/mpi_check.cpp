// MPI return codes as exceptions; see mpi_check.h.
#include "runtime/mpi_check.h"

#include <string>

#include "runtime/error.h"

namespace acerl {

void check_mpi(int rc, const char* call, MPI_Comm comm) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(rc, text, &length) != MPI_SUCCESS) length = 0;
  std::string where;
  if (comm != MPI_COMM_NULL) {
    char name[MPI_MAX_OBJECT_NAME];
    int name_length = 0, rank = -1, size = 0;
    MPI_Comm_get_name(comm, name, &name_length);
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    where = str(" on '", name_length > 0 ? std::string(name, name_length) : "unnamed", "' (rank ",
                rank, " of ", size, ")");
  }
  throw Error(str(call, where, " failed: ",
                  length > 0 ? std::string(text, static_cast<size_t>(length))
                             : "MPI error code " + std::to_string(rc)));
}

}  // namespace acerl
