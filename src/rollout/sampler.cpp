// Vocab-parallel sampling and per-sequence random streams; see sampler.h.
#include "rollout/sampler.h"

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/sample_math.h"
#include "parallel/softmax_rows.h"
#include "runtime/error.h"

#if ACERL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>

#include "kernels/sample_pick.h"
#endif

namespace acerl::rollout {
namespace {

uint64_t mix(uint64_t x) { return kernels::splitmix64(x); }

uint64_t fnv1a(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

constexpr int64_t kCandidates = 512;  // local top candidates per row for top-k / top-p
constexpr int kBisections = 64;

// Row-wise global maximum and (value-sorted) concatenation of every rank's local top values.
torch::Tensor gathered_top_values(const torch::Tensor& z, int64_t k, parallel::Communicator& tp) {
  torch::Tensor local = std::get<0>(z.topk(std::min<int64_t>(k, z.size(1)), -1, true, true));
  return std::get<0>(tp.all_gather(local, 1).sort(-1, /*descending=*/true));
}

// Sum over the whole vocabulary of e (B, Vl) where z >= threshold (B), in float64.
torch::Tensor kept_mass(const torch::Tensor& e64, const torch::Tensor& z,
                        const torch::Tensor& threshold, parallel::Communicator& tp) {
  torch::Tensor mass = (e64 * (z >= threshold.unsqueeze(-1))).sum(-1);
  tp.all_reduce(mass);
  return mass;
}

// The nucleus threshold: the smallest z among the largest tokens whose mass reaches top_p of
// the mass above `floor` (top-k). From gathered candidates when they cover the nucleus, by
// bisection otherwise (decided identically on every rank).
torch::Tensor nucleus_threshold(const torch::Tensor& z, const torch::Tensor& e64,
                                const torch::Tensor& max, const torch::Tensor& floor, double top_p,
                                parallel::Communicator& tp) {
  const int64_t B = z.size(0);
  torch::Tensor total = kept_mass(e64, z, floor, tp);                  // (B)
  torch::Tensor candidates = gathered_top_values(z, kCandidates, tp);  // (B, C) descending
  torch::Tensor ce =
      torch::exp(candidates.to(torch::kFloat64) - max.to(torch::kFloat64).unsqueeze(-1));
  ce = ce * (candidates >= floor.unsqueeze(-1));
  torch::Tensor reached = ce.cumsum(-1) >= top_p * total.unsqueeze(-1);  // (B, C)
  torch::Tensor found = reached.any(-1);
  torch::Tensor first = reached.to(torch::kInt64).argmax(-1);  // first index reaching top_p
  torch::Tensor threshold = candidates.gather(-1, first.unsqueeze(-1)).squeeze(-1);
  // Candidates are exhaustive only above every rank's k-th local value.
  torch::Tensor boundary = torch::full({B}, -std::numeric_limits<float>::infinity(), z.options());
  if (z.size(1) > kCandidates)
    boundary = std::get<0>(z.topk(kCandidates, -1)).select(1, kCandidates - 1).contiguous();
  tp.all_reduce(boundary, parallel::ReduceOp::max);
  torch::Tensor exact = found & (threshold > boundary);
  int64_t inexact = (~exact).sum().item<int64_t>();
  if (inexact == 0) return threshold;
  // Bisection over the whole shard for every row (identical iteration count on all ranks).
  torch::Tensor lo = floor.clamp_min(-1e30).to(torch::kFloat64), hi = max.to(torch::kFloat64);
  for (int i = 0; i < kBisections; ++i) {
    torch::Tensor mid = (lo + hi) / 2;
    torch::Tensor enough = kept_mass(e64, z, mid.to(z.scalar_type()), tp) >= top_p * total;
    lo = torch::where(enough, mid, lo);
    hi = torch::where(enough, hi, mid);
  }
  return torch::where(exact, threshold, lo.to(z.scalar_type()));
}

Sampled greedy(const torch::Tensor& logits, int64_t vocab_start, parallel::Communicator& tp) {
  auto [values, index] = logits.to(torch::kFloat32).max(-1);
  // Each rank's best (value, global id); the best value wins, the lowest id on ties.
  torch::Tensor best = tp.all_gather(values.unsqueeze(-1), 1);                // (B, tp)
  torch::Tensor ids = tp.all_gather((index + vocab_start).unsqueeze(-1), 1);  // (B, tp)
  torch::Tensor top = std::get<0>(best.max(-1, true));
  torch::Tensor candidate = torch::where(best == top, ids, std::numeric_limits<int64_t>::max());
  Sampled out;
  out.tokens = std::get<0>(candidate.min(-1));
  out.logprob = torch::zeros({logits.size(0)}, logits.options().dtype(torch::kFloat32));
  out.entropy = torch::zeros({logits.size(0)}, logits.options().dtype(torch::kFloat32));
  return out;
}

// The truncation threshold on z (top-k, then top-p within it); -inf where nothing is cut.
torch::Tensor truncation_threshold(const torch::Tensor& z, const torch::Tensor& max,
                                   const SamplingParams& params, parallel::Communicator& tp) {
  torch::Tensor threshold =
      torch::full({z.size(0)}, -std::numeric_limits<float>::infinity(), z.options());
  if (params.top_k > 0) {
    torch::Tensor top = gathered_top_values(z, params.top_k, tp);
    if (params.top_k <= top.size(1)) threshold = top.select(1, params.top_k - 1).contiguous();
  }
  if (params.top_p < 1.0) {
    torch::Tensor e64 = torch::exp(z - max.unsqueeze(-1)).to(torch::kFloat64);
    threshold = nucleus_threshold(z, e64, max, threshold, params.top_p, tp);
  }
  return threshold;
}

bool truncated(const SamplingParams& params) { return params.top_k > 0 || params.top_p < 1.0; }

// The CPU path: parallel/softmax_rows' loops read the logits where they are, in two passes for
// the entropy and two for the pick; only top-k / top-p make a float32 copy (z). The per-row
// arithmetic between the passes runs on the host over B values.
Sampled sample_cpu(const torch::Tensor& logits, int64_t vocab_start, parallel::Communicator& tp,
                   const SamplingParams& params, const torch::Tensor& uniforms) {
  const double T = params.temperature;
  const int64_t B = logits.size(0);
  torch::Tensor x = logits.contiguous();
  torch::Tensor max = parallel::rows_max(x, T);
  tp.all_reduce(max, parallel::ReduceOp::max);
  torch::Tensor sum, weighted;
  parallel::rows_sum_exp(x, T, max, sum, &weighted);
  torch::Tensor sums = torch::stack({sum, weighted}, -1);  // (B, 2)
  tp.all_reduce(sums);

  torch::Tensor threshold;
  if (truncated(params)) {
    // z exactly as the loops form it: x widened to float32, times the float32 1 / T.
    const auto inv_t = static_cast<float>(1.0 / T);
    threshold =
        truncation_threshold(x.to(torch::kFloat32).mul(static_cast<double>(inv_t)), max, params, tp);
  } else {
    threshold = torch::full({B}, -std::numeric_limits<float>::infinity(), torch::kFloat32);
  }
  torch::Tensor masses =
      tp.all_gather(parallel::rows_kept_mass(x, T, max, threshold).unsqueeze(-1), 1);  // (B, tp)
  // Inverse CDF in global token order: this rank's kept mass is preceded by lower ranks'.
  const torch::Tensor u = uniforms.to(torch::kCPU, torch::kFloat64).contiguous();
  torch::Tensor target = torch::empty({B}, torch::kFloat64);
  std::vector<double> total(static_cast<size_t>(B));
  {
    auto m = masses.accessor<double, 2>();
    const double* up = u.data_ptr<double>();
    double* tp_ = target.data_ptr<double>();
    for (int64_t b = 0; b < B; ++b) {
      double all = 0, before = 0;
      for (int64_t r = 0; r < m.size(1); ++r) {
        all += m[b][r];
        if (r < tp.rank()) before += m[b][r];
      }
      total[static_cast<size_t>(b)] = all;
      tp_[b] = kernels::sample_target(up[b], all) - before;
    }
  }
  torch::Tensor index, chosen;
  parallel::rows_pick(x, T, max, threshold, target, index, chosen);
  torch::Tensor tokens = torch::where(index >= 0, index + vocab_start, -1);
  tp.all_reduce(tokens, parallel::ReduceOp::max);
  tp.all_reduce(chosen);
  Sampled out;
  out.tokens = tokens;
  out.logprob = torch::empty({B}, torch::kFloat32);
  out.entropy = torch::empty({B}, torch::kFloat32);
  const int64_t* tok = tokens.data_ptr<int64_t>();
  const double* ch = chosen.data_ptr<double>();
  auto sw = sums.accessor<float, 2>();
  float* lp = out.logprob.data_ptr<float>();
  float* ent = out.entropy.data_ptr<float>();
  for (int64_t b = 0; b < B; ++b) {
    ACERL_CHECK(tok[b] >= 0, "sampling found no token (all probabilities zero?)");
    lp[b] = static_cast<float>(std::log(ch[b]) - std::log(total[static_cast<size_t>(b)]));
    ent[b] = std::log(sw[b][0]) - sw[b][1] / sw[b][0];  // H = log S - W / S
  }
  return out;
}

}  // namespace

uint64_t sequence_stream(uint64_t seed, std::string_view prompt_id, int64_t sample_index) {
  return mix(mix(seed ^ mix(fnv1a(prompt_id))) ^
             mix(static_cast<uint64_t>(sample_index) + 0x51ed270b27fd5f5bull));
}

double stream_uniform(uint64_t stream, int64_t step) { return kernels::stream_uniform(stream, step); }

Sampled sample_vocab_parallel(const torch::Tensor& logits, int64_t vocab_start,
                              parallel::Communicator& tp, const SamplingParams& params,
                              const torch::Tensor& uniforms) {
  torch::NoGradGuard no_grad;
  if (params.temperature <= 0) return greedy(logits, vocab_start, tp);
  if (parallel::softmax_rows_apply(logits))
    return sample_cpu(logits, vocab_start, tp, params, uniforms);
  const auto f32 = torch::kFloat32, f64 = torch::kFloat64;
  torch::Tensor z = logits.to(f32) / params.temperature;  // (B, Vl)
  torch::Tensor max = std::get<0>(z.max(-1));
  tp.all_reduce(max, parallel::ReduceOp::max);
  torch::Tensor shifted = z - max.unsqueeze(-1);
  torch::Tensor e = torch::exp(shifted);  // identical per token on every layout
  // Entropy of the untruncated softmax(z): log S - W / S.
  torch::Tensor sums = torch::stack({e.sum(-1), (e * shifted).sum(-1)}, -1);  // (B, 2)
  tp.all_reduce(sums);
  Sampled out;
  out.entropy = (sums.select(1, 0).log() - sums.select(1, 1) / sums.select(1, 0)).to(f32);

  torch::Tensor threshold = truncation_threshold(z, max, params, tp);
#if ACERL_WITH_CUDA
  // One GPU holds the whole vocabulary: the pick kernel walks the masses in place instead of
  // materialising them, their cumulative sum and the search in float64.
  if (z.is_cuda() && tp.size() == 1) {
    const int64_t B = z.size(0);
    torch::Tensor zc = z.contiguous(), m = max.contiguous(), thr = threshold.contiguous();
    torch::Tensor u = uniforms.to(z.device(), f64).contiguous();
    torch::Tensor index = torch::empty({B}, z.options().dtype(torch::kInt64));
    torch::Tensor chosen = torch::empty({B}, z.options().dtype(f64));
    torch::Tensor total = torch::empty({B}, z.options().dtype(f64));
    cudaError_t rc = kernels::launch_sample_pick(
        zc.data_ptr<float>(), B, zc.size(1), m.data_ptr<float>(), thr.data_ptr<float>(),
        u.data_ptr<double>(), index.data_ptr<int64_t>(), chosen.data_ptr<double>(),
        total.data_ptr<double>(), at::cuda::getCurrentCUDAStream().stream());
    ACERL_CHECK(rc == cudaSuccess, "sample_pick kernel: ", cudaGetErrorString(rc));
    out.tokens = index + vocab_start;
    out.logprob = (chosen.log() - total.log()).to(f32);
    return out;
  }
#endif
  torch::Tensor e64 = e.to(f64);

  // Inverse CDF in global token order: this rank's kept mass is preceded by lower ranks'.
  torch::Tensor kept = e64 * (z >= threshold.unsqueeze(-1));            // (B, Vl)
  torch::Tensor masses = tp.all_gather(kept.sum(-1).unsqueeze(-1), 1);  // (B, tp)
  torch::Tensor total = masses.sum(-1);
  torch::Tensor before = masses.narrow(1, 0, tp.rank()).sum(-1);
  torch::Tensor target =
      torch::minimum(uniforms.to(total.device(), f64) * total, total * (1 - 1e-15));
  torch::Tensor local_target = target - before;
  torch::Tensor mine = masses.select(1, tp.rank());
  torch::Tensor owner = (local_target >= 0) & (local_target < mine);
  torch::Tensor cum = kept.cumsum(-1);
  torch::Tensor index =
      torch::searchsorted(cum, local_target.unsqueeze(-1), /*out_int32=*/false, /*right=*/true)
          .clamp_max(z.size(1) - 1);  // (B, 1)
  torch::Tensor tokens = torch::where(owner, index.squeeze(-1) + vocab_start, -1);
  torch::Tensor chosen = torch::where(owner, kept.gather(-1, index).squeeze(-1), 0.0);
  tp.all_reduce(tokens, parallel::ReduceOp::max);
  tp.all_reduce(chosen);
  ACERL_CHECK((tokens >= 0).all().item<bool>(),
              "sampling found no token (all probabilities zero?)");
  out.tokens = tokens;
  out.logprob = (chosen.log() - total.log()).to(f32);
  return out;
}

}  // namespace acerl::rollout
