// process_start_unix, the anchor of "+DURATION" deadlines, checked against what procps' `ps`
// reports as this process's elapsed time.
#include "support/catch.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "runtime/clock.h"
#include "support/process.h"

using namespace acerl;
using acerl::test::run_process;

namespace {

// This process's age in whole seconds, from `ps -o etimes=`.
double ps_age_seconds() {
  auto r = run_process("ps -o etimes= -p " + std::to_string(getpid()), 30);
  REQUIRE(r.exit_code == 0);
  return std::stod(r.out);
}

}  // namespace

TEST_CASE("process_start_unix is when the kernel started the process, not the first call",
          "[runtime]") {
  // Let the process be at least 2 s old, so that a start taken at the first call would be off
  // by more than ps's one-second rounding.
  const double age = ps_age_seconds();
  if (age < 2) std::this_thread::sleep_for(std::chrono::duration<double>(2.2 - age));
  const double before = unix_now();
  const double ps_age = ps_age_seconds();
  const double after = unix_now();
  const double start = process_start_unix();
  INFO("start " << std::to_string(start) << ", ps: " << ps_age << " s old between "
                << std::to_string(before) << " and " << std::to_string(after));
  CHECK(ps_age >= 2);
  // ps truncates the age to whole seconds: start lies in (now - age - 1, now - age].
  CHECK(start > before - ps_age - 1 - 0.05);
  CHECK(start <= after - ps_age + 0.05);
  CHECK(process_start_unix() == start);  // computed once
}
