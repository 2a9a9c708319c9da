// defines: variable-length all-gathers of host data (strings, vectors of doubles) over an MPI
// communicator, for the small metadata ranks exchange: shard tables, completions, per-rollout rows.
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

namespace acerl::parallel {

// Every rank's `mine`, concatenated in rank order, on every rank of `comm` (collective).
// `counts`, when given, receives the length each rank contributed. A null `comm` returns `mine`.
std::string all_gather_concat(const std::string& mine, MPI_Comm comm,
                              std::vector<int>* counts = nullptr);
std::vector<double> all_gather_concat(const std::vector<double>& mine, MPI_Comm comm,
                                      std::vector<int>* counts = nullptr);

}  // namespace acerl::parallel
