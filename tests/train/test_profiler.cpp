// run.profile_steps: the step range is parsed (bad text is a usage error naming the key), the
// profiler records exactly the chosen steps with their phases and operators, and
// tools/profile_table.py reads the trace it writes.
#include "support/catch.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/sections.h"
#include "runtime/error.h"
#include "support/process.h"
#include "train/profiler.h"

using namespace acerl;

TEST_CASE("run.profile_steps: a step or a range of steps, counted from 1", "[train]") {
  CHECK(config::parse_step_range("") == std::make_pair<int64_t, int64_t>(1, 0));
  CHECK(config::parse_step_range("3") == std::make_pair<int64_t, int64_t>(3, 3));
  CHECK(config::parse_step_range("3-5") == std::make_pair<int64_t, int64_t>(3, 5));
  for (const char* bad : {"0", "5-3", "a", "3-", "-3", "3-5-7", "1.5", " 3"}) {
    INFO(bad);
    CHECK_FALSE(config::step_range_problem(bad).empty());
    CHECK_THROWS_WITH(config::parse_step_range(bad),
                      Catch::Contains("run.profile_steps") && Catch::Contains("3-5"));
  }
}

TEST_CASE("the step profiler records the chosen steps only, with their phases", "[train]") {
  const std::string dir = test::scratch_dir("profiler");
  const std::string path = dir + "/profile/rl_rank0.json";
  {
    train::StepProfiler profiler("2-3", path, false);
    for (int64_t step = 1; step <= 4; ++step) {
      train::ProfiledStep profiled(profiler, step);
      ACERL_PROFILE_PHASE("acerl::forward_backward");
      // A matrix product only in the recorded steps, an addition only outside them.
      torch::Tensor a = torch::ones({32, 32});
      if (step == 2 || step == 3)
        (void)torch::mm(a, a);
      else
        (void)torch::add(a, a);
    }
  }
  REQUIRE(std::filesystem::exists(path));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str().find("\"acerl::forward_backward\"") != std::string::npos);
  CHECK(text.str().find("\"aten::mm\"") != std::string::npos);
  CHECK(text.str().find("\"aten::add\"") == std::string::npos);
  // The table tool reads it: one phase, two matrix products.
  auto table = test::run_python(test::quote(test::source_path("tools/profile_table.py")) + " " +
                                test::quote(path));
  INFO(table.out << table.err);
  CHECK(table.exit_code == 0);
  CHECK(table.out.find("| **acerl::forward_backward** |") != std::string::npos);
  CHECK(table.out.find("| | aten::mm | 2 |") != std::string::npos);
}
