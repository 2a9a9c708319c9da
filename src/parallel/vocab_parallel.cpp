// Vocab-parallel log-prob and entropy; see vocab_parallel.h.
//
// With z = logits / T split over ranks, M = max z (all-reduce max), e = exp(z - M),
// S = sum e (all-reduce sum), W = sum e (z - M) (all-reduce sum):
//   log Z = M + log S,   log p_t = z_t - log Z,   H = log S - W / S.
// Gradients w.r.t. z (then divided by T for the logits):
//   d log p_t / dz_j = 1[j = t] - p_j,     dH / dz_j = -p_j (log p_j + H).
#include "parallel/vocab_parallel.h"

#include "parallel/softmax_rows.h"

#include <cmath>
#include <vector>

#if ACERL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>

#include "kernels/softmax_stats.h"
#include "runtime/error.h"
#endif

namespace acerl::parallel {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

struct Stats {
  torch::Tensor z;    // (N, V/tp) float32, logits / T
  torch::Tensor max;  // (N) global max of z
  torch::Tensor e;    // (N, V/tp) exp(z - max)
  torch::Tensor sum;  // (N) global sum of e
};

Stats softmax_stats(const torch::Tensor& logits, Communicator& tp, double temperature) {
  Stats s;
  s.z = logits.to(torch::kFloat32) / temperature;
  s.max = std::get<0>(s.z.max(-1));
  tp.all_reduce(s.max, ReduceOp::max);
  s.e = torch::exp(s.z - s.max.unsqueeze(-1));
  s.sum = s.e.sum(-1);
  tp.all_reduce(s.sum);
  return s;
}

// The communicator travels as an integer (IValues cannot hold pointers); it outlives the graph.
// On the CPU (softmax_rows_apply) the statistics and gradients come from parallel/softmax_rows'
// loops, which keep only (N) statistics for backward; elsewhere from LibTorch operators over a
// float32 copy of the logits.
struct LogProb : torch::autograd::Function<LogProb> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits,
                               const torch::Tensor& targets, int64_t vocab_start, int64_t comm,
                               double temperature) {
    Communicator& tp = *reinterpret_cast<Communicator*>(comm);
    const int64_t local = logits.size(-1);
    torch::Tensor local_target = targets - vocab_start;
    torch::Tensor mine = (local_target >= 0) & (local_target < local);
    torch::Tensor index = local_target.clamp(0, local - 1).unsqueeze(-1);
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["dtype"] = static_cast<int64_t>(logits.scalar_type());
    if (softmax_rows_apply(logits)) {
      torch::Tensor x = logits.contiguous();
      torch::Tensor max = rows_max(x, temperature), sum;
      tp.all_reduce(max, ReduceOp::max);
      rows_sum_exp(x, temperature, max, sum, nullptr);
      tp.all_reduce(sum);
      torch::Tensor z_target = x.gather(-1, index).squeeze(-1).to(torch::kFloat32) *
                               static_cast<float>(1.0 / temperature) * mine;
      tp.all_reduce(z_target);
      ctx->save_for_backward({x, max, sum, index, mine});
      ctx->saved_data["cpu_loops"] = true;
      return z_target - max - sum.log();
    }
    Stats s = softmax_stats(logits, tp, temperature);
    torch::Tensor z_target = s.z.gather(-1, index).squeeze(-1) * mine;
    tp.all_reduce(z_target);
    torch::Tensor logprob = z_target - s.max - s.sum.log();
    ctx->save_for_backward({s.e, s.sum, index, mine});
    return logprob;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const double temperature = ctx->saved_data["temperature"].toDouble();
    auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["dtype"].toInt());
    if (ctx->saved_data.count("cpu_loops")) {
      const torch::Tensor &x = saved[0], &max = saved[1], &sum = saved[2], &index = saved[3],
                          &mine = saved[4];
      torch::Tensor grad = logprob_grad(x, temperature, max, sum, grads[0], index.squeeze(-1),
                                        mine.to(torch::kFloat32));
      return {grad.to(dtype), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
    }
    const torch::Tensor &e = saved[0], &sum = saved[1], &index = saved[2], &mine = saved[3];
    torch::Tensor g = grads[0].to(torch::kFloat32).unsqueeze(-1);  // (N, 1)
    torch::Tensor grad = -(e / sum.unsqueeze(-1)) * g;
    grad.scatter_add_(-1, index, g * mine.unsqueeze(-1).to(torch::kFloat32));
    grad = grad / temperature;
    return {grad.to(dtype), torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

struct Entropy : torch::autograd::Function<Entropy> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& logits, int64_t comm,
                               double temperature) {
    Communicator& tp = *reinterpret_cast<Communicator*>(comm);
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["dtype"] = static_cast<int64_t>(logits.scalar_type());
    if (softmax_rows_apply(logits)) {
      torch::Tensor x = logits.contiguous();
      torch::Tensor max = rows_max(x, temperature), sum, weighted;
      tp.all_reduce(max, ReduceOp::max);
      rows_sum_exp(x, temperature, max, sum, &weighted);
      tp.all_reduce(sum);
      tp.all_reduce(weighted);
      torch::Tensor entropy = sum.log() - weighted / sum;
      ctx->save_for_backward({x, max, sum, entropy});
      ctx->saved_data["cpu_loops"] = true;
      return entropy;
    }
    Stats s = softmax_stats(logits, tp, temperature);
    torch::Tensor shifted = s.z - s.max.unsqueeze(-1);  // z - M
    torch::Tensor weighted = (s.e * shifted).sum(-1);
    tp.all_reduce(weighted);
    torch::Tensor log_sum = s.sum.log();
    torch::Tensor entropy = log_sum - weighted / s.sum;
    ctx->save_for_backward({s.e, s.sum, shifted, log_sum, entropy});
    return entropy;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const double temperature = ctx->saved_data["temperature"].toDouble();
    auto dtype = static_cast<torch::ScalarType>(ctx->saved_data["dtype"].toInt());
    if (ctx->saved_data.count("cpu_loops")) {
      torch::Tensor grad =
          entropy_grad(saved[0], temperature, saved[1], saved[2], saved[3], grads[0]);
      return {grad.to(dtype), torch::Tensor(), torch::Tensor()};
    }
    const torch::Tensor &e = saved[0], &sum = saved[1], &shifted = saved[2], &log_sum = saved[3],
                        &h = saved[4];
    torch::Tensor p = e / sum.unsqueeze(-1);
    torch::Tensor log_p = shifted - log_sum.unsqueeze(-1);
    torch::Tensor grad =
        -p * (log_p + h.unsqueeze(-1)) * grads[0].to(torch::kFloat32).unsqueeze(-1);
    grad = grad / temperature;
    return {grad.to(dtype), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor vocab_parallel_logprob(const torch::Tensor& logits, const torch::Tensor& targets,
                                     int64_t vocab_start, Communicator& tp, double temperature) {
  return LogProb::apply(logits, targets, vocab_start, reinterpret_cast<int64_t>(&tp), temperature);
}

torch::Tensor vocab_parallel_entropy(const torch::Tensor& logits, Communicator& tp,
                                     double temperature) {
  return Entropy::apply(logits, reinterpret_cast<int64_t>(&tp), temperature);
}

#if ACERL_WITH_CUDA
namespace {

// The H(T') curve on the GPU: the one-pass softmax-statistics kernel reads the logits once per
// temperature (no (N, V) temporaries), and TP ranks merge (max, sum, weighted sum) per row and
// temperature: with s = 0 a shard holds no mass and drops out.
torch::Tensor entropies_cuda(const torch::Tensor& logits, Communicator& tp,
                             const std::vector<double>& temperatures) {
  torch::Tensor x = logits.to(torch::kFloat32).contiguous();  // (N, V/tp)
  const int64_t N = x.size(0), K = static_cast<int64_t>(temperatures.size());
  // Filled on the device (no host-to-device copy): the decode step can be captured in a graph.
  torch::Tensor inv = torch::empty({K}, x.options());
  for (int64_t k = 0; k < K; ++k)
    inv.narrow(0, k, 1).fill_(static_cast<float>(1.0 / temperatures[static_cast<size_t>(k)]));
  torch::Tensor stats = torch::empty({3, N, K}, x.options());  // max, sum, weighted sum
  constexpr int64_t kChunk = 16;                               // temperatures per launch
  for (int64_t k0 = 0; k0 < K; k0 += kChunk) {
    const int64_t k = std::min(kChunk, K - k0);
    torch::Tensor part = torch::empty({3, N, k}, x.options());
    cudaError_t rc = kernels::launch_softmax_stats(
        x.data_ptr<float>(), N, x.size(1), inv.data_ptr<float>() + k0, static_cast<int>(k),
        part[0].data_ptr<float>(), part[1].data_ptr<float>(), part[2].data_ptr<float>(),
        at::cuda::getCurrentCUDAStream().stream());
    ACERL_CHECK(rc == cudaSuccess, "softmax_stats kernel: ", cudaGetErrorString(rc));
    stats.narrow(2, k0, k).copy_(part);
  }
  torch::Tensor s = stats[1], w = stats[2];  // (N, K)
  if (tp.size() > 1) {
    torch::Tensor all = tp.all_gather(stats.permute({1, 2, 0}).contiguous(), 2)
                            .view({N, K, tp.size(), 3});  // (N, K, tp, 3)
    torch::Tensor ms = all.select(3, 0), ss = all.select(3, 1), ws = all.select(3, 2);
    torch::Tensor top = std::get<0>(ms.max(2, /*keepdim=*/true));
    torch::Tensor held = ss > 0;
    torch::Tensor shift = torch::where(held, ms - top, torch::zeros_like(ms));
    torch::Tensor scale = torch::where(held, torch::exp(shift), torch::zeros_like(ms));
    s = (ss * scale).sum(2);
    w = ((ws + shift * ss) * scale).sum(2);
  }
  return s.log() - w / s;
}

}  // namespace
#endif

torch::Tensor vocab_parallel_entropies(const torch::Tensor& logits, Communicator& tp,
                                       const std::vector<double>& temperatures) {
  torch::NoGradGuard no_grad;
#if ACERL_WITH_CUDA
  if (logits.is_cuda() && !temperatures.empty()) return entropies_cuda(logits, tp, temperatures);
#endif
  if (softmax_rows_apply(logits) && !temperatures.empty()) {
    // The CPU loops per temperature, with one all-reduce of the maxima and one of the sums for
    // the whole curve; H = log S - W / S per row and temperature on the host.
    torch::Tensor x = logits.contiguous();
    const int64_t N = x.size(0), K = static_cast<int64_t>(temperatures.size());
    std::vector<torch::Tensor> maxima;
    for (double t : temperatures) maxima.push_back(rows_max(x, t));
    torch::Tensor max = torch::stack(maxima);  // (K, N)
    tp.all_reduce(max, ReduceOp::max);
    torch::Tensor sums = torch::empty({2, K, N}, torch::kFloat32);
    for (int64_t k = 0; k < K; ++k) {
      torch::Tensor sum, weighted;
      rows_sum_exp(x, temperatures[static_cast<size_t>(k)], max[k], sum, &weighted);
      sums[0][k].copy_(sum);
      sums[1][k].copy_(weighted);
    }
    tp.all_reduce(sums);
    torch::Tensor out = torch::empty({N, K}, torch::kFloat32);
    auto s = sums.accessor<float, 3>();
    auto h = out.accessor<float, 2>();
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < N; ++i) h[i][k] = std::log(s[0][k][i]) - s[1][k][i] / s[0][k][i];
    return out;
  }
  std::vector<torch::Tensor> columns;
  for (double t : temperatures) columns.push_back(vocab_parallel_entropy(logits, tp, t));
  return torch::stack(columns, -1);
}

}  // namespace acerl::parallel
