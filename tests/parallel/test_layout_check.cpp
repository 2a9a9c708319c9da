// Layout validation and stage partition (single process): messages say what would fit.
#include "support/catch.h"

#include "model/qwen2.h"
#include "parallel/process_groups.h"

using namespace acerl;
using Catch::Matchers::Contains;

namespace {
parallel::ModelShape shape() { return {8, 2, 32000, 8, 1408}; }
}  // namespace

TEST_CASE("layouts that do not fit the world size or the model are explained", "[parallel]") {
  CHECK(parallel::layout_problem(4, {2, 2, 1}, shape()).empty());
  CHECK(parallel::layout_problem(4, {2, 1, 0}, shape()).empty());  // dp = auto = 2
  CHECK(parallel::resolve_layout(4, {2, 1, 0}).dp == 2);
  CHECK_THAT(
      parallel::layout_problem(4, {2, 2, 2}, shape()),
      Contains("2 * 2 * 2") && Contains("4 ranks") && Contains("(1,1,4)") && Contains("(2,2,1)"));
  CHECK_THAT(parallel::layout_problem(3, {2, 1, 0}, shape()),
             Contains("does not make the 3 ranks"));
  CHECK_THAT(parallel::layout_problem(4, {4, 1, 1}, shape()),
             Contains("parallel.tp = 4 does not divide num_key_value_heads = 2") &&
                 Contains("tp values that fit") && Contains("1, 2"));
  parallel::ModelShape odd_vocab = shape();
  odd_vocab.vocab = 32001;
  CHECK_THAT(parallel::layout_problem(2, {2, 1, 1}, odd_vocab), Contains("vocab_size = 32001"));
  CHECK_THAT(parallel::layout_problem(3, {1, 3, 1}, shape()),
             Contains("parallel.pp = 3 does not divide num_hidden_layers = 8") &&
                 Contains("pp values that fit: 1"));
}

TEST_CASE("pipeline stages split layers evenly or as told", "[parallel]") {
  auto r = model::stage_range(10, 3, 0);
  CHECK((r.first == 0 && r.end == 4 && r.embedding && !r.head));
  r = model::stage_range(10, 3, 2);
  CHECK((r.first == 7 && r.end == 10 && !r.embedding && r.head));
  r = model::stage_range(8, 2, 1, {6, 2});
  CHECK((r.first == 6 && r.end == 8));
  CHECK_THROWS_WITH(model::stage_range(8, 2, 0, {6, 3}), Contains("sum to num_hidden_layers = 8"));
  CHECK_THROWS_WITH(model::stage_range(8, 2, 0, {8}),
                    Contains("lists 1 stages but parallel.pp = 2"));
}
