// Whole-job failure behaviour of MpiRuntime/run_main, observed on real mpiexec jobs.
#include "support/catch.h"

#include "runtime/error.h"
#include "runtime/mpi_runtime.h"
#include "support/process.h"

using acerl::test::mpiexec;
using acerl::test::run_process;

TEST_CASE("an exception on rank 1 of 2 ends both ranks quickly with a non-zero exit", "[runtime]") {
  auto r = run_process(mpiexec(2) + " " ACERL_FAULT_PROBE, 60);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code != 0);
  CHECK(r.seconds < 10);
  CHECK(r.err.find("rank 1: error: injected failure") != std::string::npos);
}

TEST_CASE("a failure inside agree() prints one message and exits 2 on every rank", "[runtime]") {
  auto r = run_process(mpiexec(2) + " " ACERL_FAULT_PROBE " --agree", 60);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK_FALSE(r.timed_out);
  CHECK(r.exit_code == 2);
  const std::string line = "rank 1: error: injected config error";
  auto first = r.err.find(line);
  REQUIRE(first != std::string::npos);
  CHECK(r.err.find(line, first + 1) == std::string::npos);
}

TEST_CASE("agree() returns normally on every rank when the phase succeeds", "[runtime]") {
  auto r = run_process(mpiexec(2) + " " ACERL_FAULT_PROBE " --agree-ok", 60);
  INFO("stdout: " << r.out << "\nstderr: " << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("rank 0 passed agree") != std::string::npos);
  CHECK(r.out.find("rank 1 passed agree") != std::string::npos);
}
