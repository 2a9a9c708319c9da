// Variable-length all-gathers over MPI; see gather.h.
#include "parallel/gather.h"

#include <climits>

#include "runtime/error.h"
#include "runtime/mpi_check.h"
#include "runtime/watchdog.h"

namespace acerl::parallel {
namespace {

template <typename Container>
Container gather(const Container& mine, MPI_Comm comm, MPI_Datatype type,
                 std::vector<int>* counts_out) {
  if (comm == MPI_COMM_NULL) {
    if (counts_out) *counts_out = {static_cast<int>(mine.size())};
    return mine;
  }
  ACERL_CHECK(mine.size() <= static_cast<size_t>(INT_MAX), "all-gather of ", mine.size(),
              " elements exceeds the MPI int count limit");
  int size = 0, count = static_cast<int>(mine.size());
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size", comm);
  CollectiveScope scope("MPI_Allgatherv");
  std::vector<int> counts(static_cast<size_t>(size)), offsets(static_cast<size_t>(size));
  check_mpi(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather",
            comm);
  long long total = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    offsets[r] = static_cast<int>(total);
    total += counts[r];
  }
  ACERL_CHECK(total <= INT_MAX, "all-gather of ", total,
              " elements in all exceeds the MPI int count limit");
  Container all(static_cast<size_t>(total), typename Container::value_type{});
  check_mpi(MPI_Allgatherv(mine.data(), count, type, all.data(), counts.data(), offsets.data(),
                           type, comm),
            "MPI_Allgatherv", comm);
  if (counts_out) *counts_out = std::move(counts);
  return all;
}

}  // namespace

std::string all_gather_concat(const std::string& mine, MPI_Comm comm, std::vector<int>* counts) {
  return gather(mine, comm, MPI_CHAR, counts);
}

std::vector<double> all_gather_concat(const std::vector<double>& mine, MPI_Comm comm,
                                      std::vector<int>* counts) {
  return gather(mine, comm, MPI_DOUBLE, counts);
}

}  // namespace acerl::parallel
