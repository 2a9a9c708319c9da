// defines: log0 (rank 0 only), logr (every rank, "rank N: " prefix), warn_once.
// The rank is process-wide state set once by MpiRuntime: logging is the one place where acerl
// accepts a global, so that any function can report without threading the runtime through.
#pragma once

#include <string>

namespace acerl {

void log_set_rank(int rank, int world_size);
int log_rank();

// Informational line on stdout, printed by rank 0 only.
void log0(const std::string& line);
// Line on stderr from any rank, prefixed "rank N: " when the job has more than one rank.
void logr(const std::string& line);
// Like logr, but each distinct `key` is printed at most once per process.
void warn_once(const std::string& key, const std::string& line);

}  // namespace acerl
