// A bad parallel layout ends a multi-rank job fast with one clear message (no hang, no flood of
// copies): layouts that do not make the world size, or do not divide the model.
#include "support/catch.h"

#include "support/process.h"
#include "support/sft_fixture.h"

using namespace acerl::test;
using Catch::Matchers::Contains;

namespace {
size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("bad layouts fail on every rank with one message saying what fits", "[cli]") {
  SftFixture f = make_sft_fixture("layout_errors", 16);
  auto r = run_process(mpiexec(2) + " " + quote(ACERL_EXE) + " sft " + quote(f.ini) + " --parallel.tp=3", 60);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.seconds < 30);
  CHECK(count(r.err, "does not make the 2 ranks") == 1);
  CHECK_THAT(r.err, Contains("(1,1,2)") && Contains("(2,1,1)"));
  r = run_process(mpiexec(4) + " " + quote(ACERL_EXE) + " sft " + quote(f.ini) + " --parallel.tp=4", 60);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(count(r.err, "parallel.tp = 4 does not divide num_key_value_heads = 2") == 1);
  CHECK_THAT(r.err, Contains("tp values that fit this model and 4 ranks: 1, 2"));
}
