// Rotary embeddings: the CPU loop of apply_rope (float32 and bfloat16) against the rotate-half
// expression of HF's Qwen2 written as LibTorch operators, bit for bit (the loop rounds as the
// expression does), forward and through autograd; the projection's transposed layout, a
// non-dense input and tables broadcast over the batch; 1 and 2 threads.
#include "support/catch.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include "model/rope.h"

using namespace acerl::model;

namespace {

torch::Tensor expression(const torch::Tensor& x, const RopeTables& t) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor rotated = torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * t.cos.to(x.scalar_type()) + rotated * t.sin.to(x.scalar_type());
}

}  // namespace

TEST_CASE("apply_rope's CPU loop equals the rotate-half expression bit for bit", "[model]") {
  torch::manual_seed(12);
  const int64_t B = 3, T = 7, H = 4, hd = 40;
  torch::Tensor positions = torch::randint(0, 500, {B, T});
  RopeTables tables = rope_tables(positions, hd, 1e6);
  // As a projection's output is viewed: (B, T, H * hd) -> (B, H, T, hd), transposed.
  const auto dtype = GENERATE(torch::kFloat32, torch::kBFloat16);
  INFO(dtype);
  torch::Tensor base = (torch::randn({B, T, H * hd}) * 2).to(dtype);
  torch::Tensor dy = torch::randn({B, H, T, hd}).to(dtype);
  for (int variant = 0; variant < 3; ++variant) {
    torch::Tensor x;
    if (variant == 0) x = base.view({B, T, H, hd}).transpose(1, 2);
    if (variant == 1) x = base.view({B, T, H, hd}).transpose(1, 2).contiguous();
    if (variant == 2)  // not dense: every other head of a wider projection
      x = torch::randn({B, T, 2 * H, hd}).to(dtype).transpose(1, 2).slice(1, 0, 2 * H, 2);
    INFO("variant " << variant);
    torch::Tensor xa = x.detach().requires_grad_(true), xb = x.detach().requires_grad_(true);
    torch::Tensor ours = apply_rope(xa, tables), want = expression(xb, tables);
    CHECK(torch::equal(ours, want));
    torch::autograd::backward({ours}, {dy});
    torch::autograd::backward({want}, {dy});
    CHECK(torch::equal(xa.grad(), xb.grad()));
    torch::NoGradGuard no_grad;
    CHECK(torch::equal(apply_rope(x, tables), want));
  }
  SECTION("tables of one row broadcast over the batch") {
    RopeTables one = rope_tables(positions.narrow(0, 0, 1), hd, 1e4);
    torch::Tensor x = base.view({B, T, H, hd}).transpose(1, 2);
    CHECK(torch::equal(apply_rope(x, one), expression(x, one)));
  }
  SECTION("threads") {
    torch::Tensor x = torch::randn({2, 16, 300, 64}).to(dtype);
    RopeTables t = rope_tables(torch::arange(300).repeat({2, 1}), 64, 1e6);
    const int threads = at::get_num_threads();
    at::set_num_threads(1);
    torch::Tensor one = apply_rope(x, t);
    at::set_num_threads(2);
    torch::Tensor two = apply_rope(x, t);
    at::set_num_threads(threads);
    CHECK(torch::equal(one, two));
    CHECK(torch::equal(one, expression(x, t)));
  }
}
