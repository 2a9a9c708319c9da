// model::block_attention, the blocked CPU training attention, against attention written out in
// float64 from the mask rule itself (causal, within a document, prefix + own branch, padding
// sees itself), values and gradients; and block_layout's key ranges against hand-worked ones.
#include "support/catch.h"

#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "model/block_attention.h"

using namespace acerl;

namespace {

// allowed[b][i][j] by the rule, element by element.
torch::Tensor rule_mask(int64_t B, int64_t T, const torch::Tensor& doc, const torch::Tensor& seg) {
  torch::Tensor allowed = torch::zeros({B, 1, T, T}, torch::kBool);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j <= i; ++j) {
        bool ok = true;
        if (doc.defined()) {
          const int64_t di = doc[b][i].item<int64_t>(), dj = doc[b][j].item<int64_t>();
          ok = di >= 0 && di == dj;
          if (ok && seg.defined()) {
            const int64_t si = seg[b][i].item<int64_t>(), sj = seg[b][j].item<int64_t>();
            ok = sj == 0 || si == sj;
          }
        }
        allowed[b][0][i][j] = ok || i == j;
      }
  return allowed;
}

// softmax(q k^T / sqrt(hd), masked) v in float64, the KV heads repeated for their query heads.
torch::Tensor reference(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& allowed) {
  const int64_t G = q.size(1) / k.size(1);
  torch::Tensor kk = k.repeat_interleave(G, 1), vv = v.repeat_interleave(G, 1);
  torch::Tensor s = torch::matmul(q, kk.transpose(-1, -2)) / std::sqrt(double(q.size(3)));
  s = s.masked_fill(allowed.logical_not(), -INFINITY);
  return torch::matmul(torch::softmax(s, -1), vv);
}

struct Case {
  const char* name;
  int64_t B, H, KV, T, hd, block;
  torch::Tensor doc, seg;
};

std::vector<Case> cases() {
  auto ids = [](std::vector<int64_t> values, int64_t B) {
    return torch::tensor(values).view({B, -1});
  };
  std::vector<Case> out;
  out.push_back({"causal, T a multiple of the block", 1, 4, 2, 64, 16, 16, {}, {}});
  out.push_back({"causal, last block short, G = 1", 2, 3, 3, 45, 8, 16, {}, {}});
  out.push_back({"causal, one block", 1, 4, 1, 7, 8, 128, {}, {}});
  // Packed documents with padding (-1), a document id reused later in the row, blocks of 4.
  out.push_back({"packed documents",
                 2,
                 4,
                 2,
                 14,
                 8,
                 4,
                 ids({0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 0, 0, -1, -1,  //
                      5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 7, 7,  -1},
                     2),
                 {}});
  // A shared prefix (segment 0) and three branches, then a second document with branches.
  out.push_back({"prefix and branches", 1, 2, 1, 16, 8, 5,
                 ids({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, -1}, 1),
                 ids({0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 0, 0, 1, 2, 2, 0}, 1)});
  return out;
}

}  // namespace

TEST_CASE("block_layout starts each query block at its earliest document's first key", "[model]") {
  // Starts by token: 0 0 0 3 3 5(pad) 6 0(doc 0 again); blocks of 2 take the minimum.
  torch::Tensor doc = torch::tensor(std::vector<int64_t>{0, 0, 0, 1, 1, -1, 2, 0}).view({1, 8});
  auto layout = model::block_layout(1, 8, doc, {}, 2);
  CHECK(
      torch::equal(layout.key_begin, torch::tensor(std::vector<int64_t>{0, 0, 3, 0}).view({1, 4})));
  layout = model::block_layout(1, 8, doc, {}, 3);  // blocks {0,1,2} {3,4,5} {6,7}
  CHECK(torch::equal(layout.key_begin, torch::tensor(std::vector<int64_t>{0, 3, 0}).view({1, 3})));
  layout = model::block_layout(2, 5, {}, {}, 2);  // causal rows: every block from column 0
  CHECK(torch::equal(layout.key_begin, torch::zeros({2, 3}, torch::kInt64)));
  CHECK_THROWS_WITH(model::block_layout(1, 9, doc, {}, 2), Catch::Contains("doc_ids must be"));
}

TEST_CASE("block_layout picks 64-row blocks up to 1024-token documents, 32 beyond", "[model]") {
  CHECK(model::block_layout(1, 1024, {}, {}).block == 64);
  CHECK(model::block_layout(1, 1025, {}, {}).block == 32);
  // Packed rows: the longest document decides (two of 1000 and 1100 tokens in a 2100 row).
  torch::Tensor doc = (torch::arange(2100) >= 1000).to(torch::kInt64).unsqueeze(0);
  CHECK(model::block_layout(1, 2100, doc, {}).block == 32);
  CHECK(model::block_layout(1, 2100, doc.clamp_max(0) + (torch::arange(2100) / 700), {}).block ==
        64);
  // Padding counts one token each.
  CHECK(model::block_layout(1, 2100, torch::full({1, 2100}, -1, torch::kInt64), {}).block == 64);
}

TEST_CASE("block_attention equals masked attention in float64, values and gradients", "[model]") {
  torch::manual_seed(5);
  for (const auto& c : cases()) {
    INFO(c.name);
    torch::Tensor q64 = torch::randn({c.B, c.H, c.T, c.hd}, torch::kFloat64) * 2;
    torch::Tensor k64 = torch::randn({c.B, c.KV, c.T, c.hd}, torch::kFloat64);
    torch::Tensor v64 = torch::randn({c.B, c.KV, c.T, c.hd}, torch::kFloat64);
    torch::Tensor w = torch::randn({c.B, c.H, c.T, c.hd}, torch::kFloat64);
    torch::Tensor allowed = rule_mask(c.B, c.T, c.doc, c.seg);
    auto layout = model::block_layout(c.B, c.T, c.doc, c.seg, c.block);

    // The truth: float64 values and gradients of sum(out * w).
    auto qr = q64.clone().requires_grad_(), kr = k64.clone().requires_grad_(),
         vr = v64.clone().requires_grad_();
    torch::Tensor want = reference(qr, kr, vr, allowed);
    auto want_grads = torch::autograd::grad({(want * w).sum()}, {qr, kr, vr});

    for (auto dtype : {torch::kFloat64, torch::kFloat32}) {
      INFO("dtype " << dtype);
      // Strided inputs, as the model passes them ((B, T, H, hd) transposed).
      auto strided = [&](const torch::Tensor& t) {
        return t.transpose(1, 2).contiguous().transpose(1, 2).to(dtype).requires_grad_();
      };
      auto q = strided(q64), k = strided(k64), v = strided(v64);
      torch::Tensor got = model::block_attention(q, k, v, layout);
      REQUIRE(got.sizes() == want.sizes());
      CHECK(got.scalar_type() == dtype);
      auto grads = torch::autograd::grad({(got * w.to(dtype)).sum()}, {q, k, v});
      const double tol = dtype == torch::kFloat64 ? 1e-12 : 2e-5;
      CHECK((got.to(torch::kFloat64) - want).abs().max().item<double>() < tol);
      for (int i = 0; i < 3; ++i) {
        INFO("gradient "
             << "qkv"[i]);
        const double err =
            (grads[i].to(torch::kFloat64) - want_grads[i]).abs().max().item<double>();
        const double scale = want_grads[i].abs().max().item<double>();
        CHECK(err < tol * std::max(1.0, scale));
      }
    }
  }
}

TEST_CASE("block_attention takes bfloat16, computes in float32 and answers in bfloat16",
          "[model]") {
  torch::manual_seed(6);
  const auto c = cases()[3];  // packed documents
  torch::Tensor q = torch::randn({c.B, c.H, c.T, c.hd}).to(torch::kBFloat16);
  torch::Tensor k = torch::randn({c.B, c.KV, c.T, c.hd}).to(torch::kBFloat16);
  torch::Tensor v = torch::randn({c.B, c.KV, c.T, c.hd}).to(torch::kBFloat16);
  torch::Tensor got = model::block_attention(q, k, v, model::block_layout(c.B, c.T, c.doc, {}, 4));
  CHECK(got.scalar_type() == torch::kBFloat16);
  // The float64 truth on the same (bf16-valued) inputs: each element within bf16's half ulp
  // (2^-8 relative) of it, plus float32's own error.
  torch::Tensor want = reference(q.to(torch::kFloat64), k.to(torch::kFloat64),
                                 v.to(torch::kFloat64), rule_mask(c.B, c.T, c.doc, {}));
  torch::Tensor err = (got.to(torch::kFloat64) - want).abs();
  CHECK((err <= want.abs() * std::ldexp(1.0, -8) + 1e-6).all().item<bool>());
  CHECK(err.max().item<double>() > 0);  // (it did round to bf16)
}

TEST_CASE("block_attention refuses tensors and layouts it cannot take", "[model]") {
  torch::Tensor q = torch::randn({1, 2, 8, 4}), k = torch::randn({1, 1, 8, 4});
  auto layout = model::block_layout(1, 8, {}, {}, 4);
  CHECK_THROWS_WITH(model::block_attention(q.to(torch::kFloat16), k, k, layout),
                    Catch::Contains("float32, float64 or bfloat16"));
  CHECK_THROWS_WITH(
      model::block_attention(q, torch::randn({1, 3, 8, 4}), torch::randn({1, 3, 8, 4}), layout),
      Catch::Contains("KV dividing H"));
  CHECK_THROWS_WITH(model::block_attention(q, k, k, model::block_layout(1, 9, {}, {}, 4)),
                    Catch::Contains("another (B, T)"));
}
