// model::decode_attention, the CPU decode-step kernel, against LibTorch's masked SDPA (float32
// and a bfloat16 cache, grouped heads, strided cache views, rows of different lengths), its exp
// against std::exp, and the promises the generator relies on: a row's result does not depend on
// the other rows or on the thread count, bit for bit.
#include "support/catch.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

#include "model/decode_attention.h"

using namespace acerl;

namespace {

// What the model computed before the kernel, SDPA over the cache with the mask slot < length,
// in float64 (the float32 results of both sides differ from it by their own rounding).
torch::Tensor reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& lengths, torch::ScalarType dtype = torch::kFloat64) {
  const int64_t S = k.size(2);
  torch::Tensor mask = torch::arange(S).view({1, 1, 1, S}) < lengths.view({-1, 1, 1, 1});
  return at::scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), mask)
      .to(torch::kFloat32);
}

}  // namespace

TEST_CASE("decode_attention's exp is within 3e-7 of std::exp on [-87, 0]", "[model]") {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    const float x = -87.0f * static_cast<float>(i) / 200000.0f;
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(model::decode_attention_exp(x) - want) / want);
  }
  INFO("max relative error " << worst);
  CHECK(worst < 3e-7);
  CHECK(worst > 0);  // (a polynomial, not std::exp itself)
  CHECK(model::decode_attention_exp(0.0f) == 1.0f);
  CHECK(model::decode_attention_exp(-1000.0f) < 1e-37f);
}

TEST_CASE("decode_attention equals masked SDPA over each row's slots", "[model]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(11);
  for (int64_t G : {1, 2, 7}) {
    for (int64_t hd : {16, 32, 72}) {
      INFO("G " << G << ", hd " << hd);
      const int64_t B = 5, KV = 2, S = 40;
      // A preallocated cache of 64 slots, attended over its first 40 (strided views).
      torch::Tensor k = torch::randn({B, KV, 64, hd}).narrow(2, 0, S);
      torch::Tensor v = torch::randn({B, KV, 64, hd}).narrow(2, 0, S);
      torch::Tensor q = torch::randn({B, KV, G, hd}) * 3;  // peaked softmaxes too
      torch::Tensor lengths =
          torch::tensor({int64_t(1), int64_t(40), int64_t(17), int64_t(16), int64_t(33)});
      REQUIRE(model::decode_attention_applies(q, k, v));
      torch::Tensor got = model::decode_attention(q, k, v, lengths);
      CHECK(got.sizes() == q.sizes());
      CHECK(got.scalar_type() == torch::kFloat32);
      const torch::Tensor want = reference(q, k, v, lengths);
      CHECK(torch::allclose(got, want, 1e-5, 1e-6));
      // No worse than SDPA in float32.
      const auto error = [&](const torch::Tensor& x) {
        return (x - want).abs().max().item<double>();
      };
      CHECK(error(got) <= 2 * error(reference(q, k, v, lengths, torch::kFloat32)) + 1e-6);
      // A row of length 1 is its first value.
      CHECK(torch::allclose(got[0], v[0].narrow(1, 0, 1).expand({KV, G, hd}), 1e-6, 1e-7));

      // A bfloat16 cache (as under bf16 autocast): the same math on the widened values.
      torch::Tensor kb = k.to(torch::kBFloat16), vb = v.to(torch::kBFloat16);
      REQUIRE(model::decode_attention_applies(q, kb, vb));
      CHECK(torch::allclose(model::decode_attention(q, kb, vb, lengths),
                            reference(q, kb, vb, lengths), 1e-5, 1e-6));
      torch::Tensor qb = q.to(torch::kBFloat16);
      torch::Tensor out_b = model::decode_attention(qb, kb, vb, lengths);
      CHECK(out_b.scalar_type() == torch::kBFloat16);
      CHECK(torch::allclose(out_b.to(torch::kFloat32), reference(qb, kb, vb, lengths), 1e-2, 1e-2));
    }
  }
}

TEST_CASE("decode_attention: a row's result depends on nothing but the row, bit for bit",
          "[model]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(12);
  const int64_t B = 64, KV = 2, G = 2, hd = 32, S = 96;
  torch::Tensor k = torch::randn({B, KV, S, hd}), v = torch::randn({B, KV, S, hd});
  torch::Tensor q = torch::randn({B, KV, G, hd});
  torch::Tensor lengths = torch::randint(1, S + 1, {B}, torch::kInt64);
  const int threads = at::get_num_threads();
  at::set_num_threads(2);
  torch::Tensor two = model::decode_attention(q, k, v, lengths);
  at::set_num_threads(1);
  torch::Tensor one = model::decode_attention(q, k, v, lengths);
  at::set_num_threads(threads);
  CHECK(torch::equal(one, two));
  for (int64_t b : {int64_t(0), int64_t(37), B - 1}) {
    auto row = [&](const torch::Tensor& t) { return t.narrow(0, b, 1); };
    CHECK(torch::equal(model::decode_attention(row(q), row(k), row(v), row(lengths)), row(two)));
  }
}

TEST_CASE("decode_attention declines what it cannot compute", "[model]") {
  torch::Tensor q = torch::randn({1, 1, 1, 8}), k = torch::randn({1, 1, 4, 8});
  CHECK_FALSE(model::decode_attention_applies(q, k.to(torch::kFloat64), k.to(torch::kFloat64)));
  CHECK_FALSE(model::decode_attention_applies(q, k.transpose(2, 3), k.transpose(2, 3)));
  torch::Tensor trained = q.clone().requires_grad_(true);
  CHECK_FALSE(model::decode_attention_applies(trained, k, k));
  {
    torch::NoGradGuard no_grad;
    CHECK(model::decode_attention_applies(trained, k, k));
  }
  CHECK_THROWS_WITH(model::decode_attention(q, k, k, torch::tensor({int64_t(5)})),
                    Catch::Contains("attends to 5 slots of 4"));
}
