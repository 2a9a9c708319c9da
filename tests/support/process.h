// defines: helpers for tests that observe real processes: run a shell command with a timeout
// (whole process group killed on expiry), the project venv's Python with its reference libraries,
// mpiexec with the test flags, and scratch directories under the build tree.
#pragma once

#include <string>

namespace acerl::test {

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal
  bool timed_out = false;
  double seconds = 0;
  std::string out, err;
};

// True when this process was started by mpiexec/srun (then the test main initialises MPI).
bool launched_by_mpi();

// Runs `command` with /bin/sh in a new process group, without the MPI launcher variables of the
// current process (so it may itself call mpiexec).
ProcessResult run_process(const std::string& command, double timeout_seconds = 120);
// `python <args>` with the project venv's interpreter; fails the test if none was configured.
ProcessResult run_python(const std::string& args, double timeout_seconds = 300);
std::string python();
std::string mpiexec(int ranks);                        // "mpiexec -n N <flags>"
std::string quote(const std::string& text);            // single-quoted for /bin/sh
std::string source_path(const std::string& relative);  // path inside the checkout
// A fresh, empty directory build/test-tmp/<name> (removed first if it exists).
std::string scratch_dir(const std::string& name);

}  // namespace acerl::test
