// defines: MpiRuntime (MPI init/finalize as one RAII object), run_main (the error boundary of
// every acerl process). Any exception on any rank ends the whole job with a non-zero exit and
// a `rank N: <message>` line; no rank is left waiting in a collective.
#pragma once

#include <mpi.h>

#include <functional>
#include <string>

namespace acerl {

// Thrown on every rank by MpiRuntime::agree when the phase failed somewhere; the message was
// already printed once. run_main turns it into exit code `exit_code` after MPI_Finalize.
struct CollectiveFailure {
  int exit_code;
};

// For a failure every rank has decided together (same message on all ranks, e.g. after an
// all-reduce): rank 0 prints `rank 0: error: <message>`, then every rank throws
// CollectiveFailure{exit_code}, so the job ends cleanly with one line and that code.
[[noreturn]] void fail_collectively(int rank, const std::string& message, int exit_code);

class MpiRuntime {
 public:
  MpiRuntime(int& argc, char**& argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  MPI_Comm world() const { return MPI_COMM_WORLD; }
  // Ranks sharing this node, and this rank's index among them (for thread and device placement).
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  int thread_level() const { return thread_level_; }

  // Prints `rank N: error: <message>` and aborts every rank of the job with `code`.
  [[noreturn]] void abort(const std::string& message, int code = 1) const;

  // Runs `phase` on every rank (all ranks must call this at the same point, e.g. config parsing
  // and layout validation). If it throws anywhere, the lowest failing rank prints its message
  // and all ranks throw CollectiveFailure: one clear message, a clean exit, no hang.
  void agree(const std::function<void()>& phase) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int thread_level_ = 0;
};

// The process entry point: builds the runtime, runs `body`, and converts every failure into
// the job-wide behaviour described above. Returns the process exit code.
int run_main(int argc, char** argv, const std::function<int(MpiRuntime&, int, char**)>& body);

}  // namespace acerl
