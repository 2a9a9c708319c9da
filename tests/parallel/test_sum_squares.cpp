// parallel::sum_of_squares (the gradient norm's sum) against a float64 sum computed here, for
// sizes around its chunk and lane boundaries; the same bits with 1 and 2 threads; strided and
// float64 tensors through the operator path.
#include "support/catch.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

#include "parallel/sum_squares.h"

using namespace acerl::parallel;

namespace {

double reference(const torch::Tensor& x) {
  torch::Tensor d = x.to(torch::kFloat64).reshape({-1});
  double total = 0;
  auto a = d.accessor<double, 1>();
  for (int64_t i = 0; i < d.size(0); ++i) total += a[i] * a[i];
  return total;
}

}  // namespace

TEST_CASE("sum_of_squares equals a float64 sum of squares", "[parallel]") {
  torch::manual_seed(8);
  for (int64_t n : {1, 15, 16, 17, 65535, 65536, 65537, 300001}) {
    INFO("n " << n);
    torch::Tensor x = torch::randn({n}) * 1e-3;
    const double want = reference(x);
    CHECK(std::abs(sum_of_squares(x) - want) <= 1e-11 * want);
  }
  torch::Tensor m = torch::randn({300, 700});
  CHECK(std::abs(sum_of_squares(m.t()) - reference(m)) <= 1e-11 * reference(m));  // strided
  CHECK(std::abs(sum_of_squares(m.to(torch::kFloat64)) - reference(m)) <= 1e-11 * reference(m));
  CHECK(sum_of_squares(torch::zeros({0})) == 0.0);
}

TEST_CASE("sum_of_squares does not depend on the thread count", "[parallel]") {
  torch::manual_seed(9);
  torch::Tensor x = torch::randn({1000003});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const double one = sum_of_squares(x);
  at::set_num_threads(2);
  const double two = sum_of_squares(x);
  at::set_num_threads(threads);
  CHECK(one == two);
}
