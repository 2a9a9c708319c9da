// MPI lifetime and the job-wide error boundary; see mpi_runtime.h.
#include "runtime/mpi_runtime.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include "runtime/error.h"
#include "runtime/exit_codes.h"
#include "runtime/log.h"
#include "runtime/mpi_check.h"

namespace acerl {
namespace {

void print_error(int rank, const std::string& message) {
  std::string line = str("rank ", rank, ": error: ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void fail_collectively(int rank, const std::string& message, int exit_code) {
  if (rank == 0) print_error(rank, message);
  throw CollectiveFailure{exit_code};
}

MpiRuntime::MpiRuntime(int& argc, char**& argv) {
  // Readers (h5py on a trace, while the run goes on) must never block the writer, and parallel
  // file systems often lack POSIX locks: acerl opens HDF5 files without locking unless told.
  setenv("HDF5_USE_FILE_LOCKING", "FALSE", /*overwrite=*/0);
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &thread_level_);
  // Errors in MPI calls come back as codes we turn into exceptions, not silent aborts.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank", MPI_COMM_WORLD);
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size", MPI_COMM_WORLD);
  MPI_Comm node;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type", MPI_COMM_WORLD);
  check_mpi(MPI_Comm_rank(node, &local_rank_), "MPI_Comm_rank", node);
  check_mpi(MPI_Comm_size(node, &local_size_), "MPI_Comm_size", node);
  check_mpi(MPI_Comm_free(&node), "MPI_Comm_free");
  log_set_rank(rank_, size_);
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiRuntime::abort(const std::string& message, int code) const {
  print_error(rank_, message);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this keeps the compiler and a broken MPI honest
}

void MpiRuntime::agree(const std::function<void()>& phase) const {
  std::string message;
  int exit_code = 0;
  try {
    phase();
  } catch (const UsageError& e) {
    message = e.what();
    exit_code = kExitBadInput;
  } catch (const std::exception& e) {
    message = e.what();
    exit_code = kExitFailure;
  }
  // MINLOC over (failed ? rank : size) finds the lowest failing rank; it alone prints.
  struct {
    int value;
    int rank;
  } mine{exit_code != 0 ? rank_ : size_, rank_}, first{};
  check_mpi(MPI_Allreduce(&mine, &first, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD),
            "MPI_Allreduce (agree)", MPI_COMM_WORLD);
  if (first.value == size_) return;
  int code = exit_code;
  check_mpi(MPI_Bcast(&code, 1, MPI_INT, first.value, MPI_COMM_WORLD), "MPI_Bcast (agree)",
            MPI_COMM_WORLD);
  if (rank_ == first.value) print_error(rank_, message);
  throw CollectiveFailure{code};
}

int run_main(int argc, char** argv, const std::function<int(MpiRuntime&, int, char**)>& body) {
  MpiRuntime runtime(argc, argv);
  try {
    return body(runtime, argc, argv);
  } catch (const CollectiveFailure& failure) {
    return failure.exit_code;
  } catch (const std::exception& e) {
    const int code = dynamic_cast<const UsageError*>(&e) ? kExitBadInput : kExitFailure;
    if (runtime.size() > 1) runtime.abort(e.what(), code);
    // Alone, nobody can be left waiting: report and exit without MPI_Abort's banner.
    print_error(runtime.rank(), e.what());
    return code;
  }
}

}  // namespace acerl
