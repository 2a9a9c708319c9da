// The CPU loops behind the vocab-parallel log-prob and entropy (parallel/softmax_rows) on one
// rank, through vocab_parallel_logprob / _entropy: values and gradients against float64
// log_softmax with autograd, for float32 and bfloat16 logits, vocabularies with and without a
// partial 16-lane block, several temperatures; NaN logits give NaN; 1 and 2 threads agree bit
// for bit.
#include "support/catch.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include "parallel/process_groups.h"
#include "parallel/softmax_rows.h"
#include "parallel/vocab_parallel.h"

using namespace acerl::parallel;

namespace {

struct Result {
  torch::Tensor logprob, entropy, grad;
};

// sum(w_l logprob) + sum(w_e entropy) through the vocab-parallel functions, and its gradient.
Result ours(const torch::Tensor& logits, const torch::Tensor& targets, const torch::Tensor& w_l,
            const torch::Tensor& w_e, double temperature) {
  auto groups = ProcessGroups::single();
  torch::Tensor x = logits.detach().clone().requires_grad_(true);
  torch::Tensor logprob = vocab_parallel_logprob(x, targets, 0, groups->tp(), temperature);
  torch::Tensor entropy = vocab_parallel_entropy(x, groups->tp(), temperature);
  ((w_l * logprob).sum() + (w_e * entropy).sum()).backward();
  return {logprob.detach(), entropy.detach(), x.grad()};
}

Result reference(const torch::Tensor& logits, const torch::Tensor& targets,
                 const torch::Tensor& w_l, const torch::Tensor& w_e, double temperature) {
  torch::Tensor x = logits.detach().to(torch::kFloat64).requires_grad_(true);
  torch::Tensor logp = torch::log_softmax(x / temperature, -1);
  torch::Tensor logprob = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
  torch::Tensor entropy = -(logp.exp() * logp).sum(-1);
  ((w_l.to(torch::kFloat64) * logprob).sum() + (w_e.to(torch::kFloat64) * entropy).sum())
      .backward();
  return {logprob.detach(), entropy.detach(), x.grad()};
}

double max_error(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST_CASE("CPU log-prob and entropy loops equal float64 log_softmax, values and gradients",
          "[parallel]") {
  torch::manual_seed(3);
  const int64_t N = 9;
  for (int64_t V : {7, 64, 1003}) {
    torch::Tensor logits = torch::randn({N, V}) * 4;
    torch::Tensor targets = torch::randint(V, {N});
    torch::Tensor w_l = torch::randn({N}), w_e = torch::randn({N});
    for (double temperature : {1.0, 0.6, 1.3}) {
      INFO("V " << V << ", T " << temperature);
      REQUIRE(softmax_rows_apply(logits));
      Result want = reference(logits, targets, w_l, w_e, temperature);
      Result got = ours(logits, targets, w_l, w_e, temperature);
      CHECK(got.grad.scalar_type() == torch::kFloat32);
      CHECK(max_error(got.logprob, want.logprob) < 1e-5);
      CHECK(max_error(got.entropy, want.entropy) < 1e-5);
      CHECK(max_error(got.grad, want.grad) < 1e-6);
      // bfloat16 logits: the same computation on the rounded logits, each gradient rounded once
      // to bfloat16 (so checked one function at a time: autograd adds the two in bfloat16).
      torch::Tensor half = logits.to(torch::kBFloat16), zero = torch::zeros({N});
      for (int which = 0; which < 2; ++which) {
        INFO((which == 0 ? "log-prob" : "entropy") << ", bfloat16");
        const torch::Tensor& wl = which == 0 ? w_l : zero;
        const torch::Tensor& we = which == 0 ? zero : w_e;
        Result want16 = reference(half, targets, wl, we, temperature);
        Result got16 = ours(half, targets, wl, we, temperature);
        CHECK(got16.grad.scalar_type() == torch::kBFloat16);
        CHECK(max_error(got16.logprob, want16.logprob) < 1e-5);
        CHECK(max_error(got16.entropy, want16.entropy) < 1e-5);
        torch::Tensor err = (got16.grad.to(torch::kFloat64) - want16.grad).abs();
        CHECK((err <= want16.grad.abs() * std::ldexp(1.0, -8) + 1e-6).all().item<bool>());
      }
    }
  }
}

TEST_CASE("CPU log-prob loops: a NaN logit gives a NaN log-prob, threads do not change bits",
          "[parallel]") {
  torch::manual_seed(4);
  torch::Tensor logits = torch::randn({6, 300});
  torch::Tensor targets = torch::randint(300, {6});
  torch::Tensor w = torch::ones({6});
  torch::Tensor poisoned = logits.clone();
  poisoned[2][123] = std::numeric_limits<float>::quiet_NaN();
  Result nan = ours(poisoned, targets, w, w, 1.0);
  CHECK(std::isnan(nan.logprob[2].item<float>()));
  CHECK(std::isnan(nan.entropy[2].item<float>()));
  CHECK(torch::isfinite(nan.logprob.narrow(0, 3, 3)).all().item<bool>());

  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  Result one = ours(logits, targets, w, w, 0.7);
  at::set_num_threads(2);
  Result two = ours(logits, targets, w, w, 0.7);
  at::set_num_threads(threads);
  CHECK(torch::equal(one.logprob, two.logprob));
  CHECK(torch::equal(one.entropy, two.entropy));
  CHECK(torch::equal(one.grad, two.grad));
}

TEST_CASE("CPU sampling loops: kept masses and the inverse-CDF pick against float64", "[parallel]") {
  torch::manual_seed(8);
  const int64_t N = 5;
  for (int64_t V : {7, 64, 1003}) {
    for (auto dtype : {torch::kFloat32, torch::kBFloat16}) {
      const double temperature = 0.8;
      torch::Tensor x = (torch::randn({N, V}) * 3).to(dtype);
      x[1][V / 2] = -std::numeric_limits<float>::infinity();  // a masked logit
      const auto inv_t = static_cast<float>(1.0 / temperature);
      torch::Tensor z = x.to(torch::kFloat32) * static_cast<double>(inv_t);  // as the loops form it
      torch::Tensor m = std::get<0>(z.max(-1));
      // Row 0 keeps everything; the others keep z >= their median.
      torch::Tensor threshold = std::get<0>(z.median(-1));
      threshold[0] = -std::numeric_limits<float>::infinity();
      torch::Tensor kept_ref = torch::where(z >= threshold.unsqueeze(-1),
                                            torch::exp((z - m.unsqueeze(-1)).to(torch::kFloat64)),
                                            torch::zeros({}, torch::kFloat64));
      torch::Tensor cum = kept_ref.cumsum(-1);
      torch::Tensor total = rows_kept_mass(x, temperature, m, threshold);
      INFO("V " << V << ", " << dtype);
      CHECK(total.scalar_type() == torch::kFloat64);
      CHECK(max_error(total, cum.select(1, V - 1)) < 1e-6 * cum.select(1, V - 1).max().item<double>());

      // Targets halfway through a column's mass pick that column, whatever the rounding.
      for (int64_t row = 0; row < N; ++row) {
        const torch::Tensor cum_row = cum[row].contiguous();
        auto c = cum_row.accessor<double, 1>();
        for (int64_t j = 0; j < V; ++j) {
          const double before = j ? c[j - 1] : 0.0, mass = c[j] - before;
          if (mass < 1e-3 * c[V - 1]) continue;  // (a masked, cut or negligible column)
          torch::Tensor target = torch::full({N}, -1.0, torch::kFloat64);
          target[row] = before + mass / 2;
          torch::Tensor index, chosen;
          rows_pick(x, temperature, m, threshold, target, index, chosen);
          INFO("row " << row << ", column " << j);
          REQUIRE(index[row].item<int64_t>() == j);
          CHECK(std::abs(chosen[row].item<double>() - mass) < 1e-6 * mass);
          CHECK(index.narrow(0, 0, row).eq(-1).all().item<bool>());  // negative targets: elsewhere
          CHECK(chosen.narrow(0, 0, row).eq(0).all().item<bool>());
        }
      }
      // A target at or beyond the row's kept mass lies in a later shard; target 0 picks the first
      // kept column (never a masked or cut one).
      torch::Tensor index, chosen;
      rows_pick(x, temperature, m, threshold, total, index, chosen);
      CHECK(index.eq(-1).all().item<bool>());
      rows_pick(x, temperature, m, threshold, torch::zeros({N}, torch::kFloat64), index, chosen);
      for (int64_t row = 0; row < N; ++row)
        CHECK(index[row].item<int64_t>() ==
              kept_ref[row].gt(0).to(torch::kInt64).argmax().item<int64_t>());
    }
  }
}

TEST_CASE("CPU sampling loops: a NaN logit makes the row's kept mass NaN; threads do not change "
          "the pick",
          "[parallel]") {
  torch::manual_seed(9);
  torch::Tensor x = torch::randn({6, 300});
  torch::Tensor m = rows_max(x, 1.0);
  torch::Tensor none = torch::full({6}, -std::numeric_limits<float>::infinity());
  torch::Tensor poisoned = x.clone();
  poisoned[2][123] = std::numeric_limits<float>::quiet_NaN();
  torch::Tensor total = rows_kept_mass(poisoned, 1.0, m, none);
  CHECK(std::isnan(total[2].item<double>()));
  CHECK(torch::isfinite(total.narrow(0, 3, 3)).all().item<bool>());

  // Enough rows of 300 for several tasks (a task takes about 32K logits).
  x = torch::randn({512, 300});
  m = rows_max(x, 1.0);
  none = torch::full({512}, -std::numeric_limits<float>::infinity());
  torch::Tensor target = rows_kept_mass(x, 1.0, m, none) * torch::rand({512}, torch::kFloat64);
  const int threads = at::get_num_threads();
  torch::Tensor i1, c1, i2, c2;
  at::set_num_threads(1);
  rows_pick(x, 1.0, m, none, target, i1, c1);
  at::set_num_threads(2);
  rows_pick(x, 1.0, m, none, target, i2, c2);
  at::set_num_threads(threads);
  CHECK(torch::equal(i1, i2));
  CHECK(torch::equal(c1, c2));
  CHECK(i1.ge(0).all().item<bool>());
}

TEST_CASE("CPU softmax-row loops: masked (-inf) logits have no mass, no entropy, no gradient",
          "[parallel]") {
  torch::manual_seed(10);
  const int64_t N = 4, V = 70;
  torch::Tensor logits = torch::randn({N, V}) * 2;
  const float inf = std::numeric_limits<float>::infinity();
  logits[0].narrow(0, 0, 35).fill_(-inf);
  logits[2][5] = -inf;
  torch::Tensor targets = torch::tensor({40, 1, 9, 69}, torch::kInt64);
  torch::Tensor w = torch::ones({N});
  for (double temperature : {1.0, 0.7}) {
    INFO("T " << temperature);
    Result got = ours(logits, targets, w, w, temperature);
    // Reference in float64 with the masked logits at -1e4, whose mass exp(-1e4 / T) is exactly
    // 0 there (and whose terms stay finite, unlike -inf's 0 * -inf).
    torch::Tensor x = torch::where(torch::isfinite(logits), logits, torch::full({}, -1e4))
                          .to(torch::kFloat64)
                          .requires_grad_(true);
    torch::Tensor logp = torch::log_softmax(x / temperature, -1);
    torch::Tensor entropy = -(logp.exp() * logp).sum(-1);
    torch::Tensor logprob = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1);
    (logprob.sum() + entropy.sum()).backward();
    CHECK(torch::isfinite(got.entropy).all().item<bool>());
    CHECK(max_error(got.logprob, logprob) < 1e-5);
    CHECK(max_error(got.entropy, entropy) < 1e-5);
    CHECK(torch::isfinite(got.grad).all().item<bool>());
    CHECK(max_error(got.grad, torch::where(torch::isfinite(logits), x.grad(),
                                           torch::zeros_like(x.grad()))) < 1e-6);
    CHECK(torch::all(got.grad[0].narrow(0, 0, 35) == 0).item<bool>());
    CHECK(got.grad[2][5].item<float>() == 0);
    // The entropy curve and the sampler's masses: masked entries hold nothing.
    auto groups = ProcessGroups::single();
    torch::Tensor curve = vocab_parallel_entropies(logits, groups->tp(), {temperature, 2.0});
    CHECK(max_error(curve.select(1, 0), entropy) < 1e-5);
    torch::Tensor m = rows_max(logits, temperature);
    torch::Tensor none = torch::full({N}, -inf);
    torch::Tensor index, chosen;
    rows_pick(logits, temperature, m, none, torch::zeros({N}, torch::kFloat64), index, chosen);
    CHECK(index[0].item<int64_t>() == 35);  // target 0: the first unmasked column
    CHECK(index[2].item<int64_t>() == 0);
  }
}
