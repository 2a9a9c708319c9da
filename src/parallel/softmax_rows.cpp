// The CPU softmax-row loops; see softmax_rows.h. Each loop is written in 16-lane blocks that the
// compiler vectorises, cloned per vector unit (parallel/cpu_math.h); built with -O3
// -ffp-contract=off, so every clone rounds alike.
#include "parallel/softmax_rows.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "parallel/cpu_math.h"
#include "runtime/error.h"

namespace acerl::parallel {
namespace {

using namespace cpu_math;

template <typename T>
ACERL_INLINE float max_body(const T* x, int64_t V, float inv_t) {
  float acc[kLanes];
  for (int j = 0; j < kLanes; ++j) acc[j] = -std::numeric_limits<float>::infinity();
  int64_t v = 0;
  for (; v + kLanes <= V; v += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float z = widen(x[v + j]) * inv_t;
      acc[j] = z > acc[j] ? z : acc[j];  // (a NaN is skipped here; the sums turn NaN)
    }
  for (int j = 0; v < V; ++v, ++j) {
    const float z = widen(x[v]) * inv_t;
    acc[j] = z > acc[j] ? z : acc[j];
  }
  float m = acc[0];
  for (int j = 1; j < kLanes; ++j) m = acc[j] > m ? acc[j] : m;
  return m;
}

template <typename T>
ACERL_INLINE void sum_body(const T* x, int64_t V, float inv_t, float m, float* sum,
                           float* weighted) {
  float s[kLanes] = {}, w[kLanes] = {};
  int64_t v = 0;
  for (; v + kLanes <= V; v += kLanes)
    for (int j = 0; j < kLanes; ++j) {
      const float d = widen(x[v + j]) * inv_t - m;
      const float e = exp_or_zero(d);
      s[j] += e;
      w[j] += e == 0.0f ? 0.0f : e * d;  // (a masked entry: 0, not 0 * -inf)
    }
  for (int j = 0; v < V; ++v, ++j) {
    const float d = widen(x[v]) * inv_t - m;
    const float e = exp_or_zero(d);
    s[j] += e;
    w[j] += e == 0.0f ? 0.0f : e * d;
  }
  *sum = lane_sum(s);
  if (weighted) *weighted = lane_sum(w);
}

// -p_j g / T = e_j (-1 / S) (g / T) with e_j = exp(x_j / T - m); the target's column is then
// rewritten by the caller.
template <typename T>
ACERL_INLINE void logprob_grad_body(const T* x, int64_t V, float inv_t, float m, float neg_inv_sum,
                                    float scale, T* out) {
  for (int64_t v = 0; v < V; ++v) {
    const float e = exp_or_zero(widen(x[v]) * inv_t - m);
    store(out + v, e * neg_inv_sum * scale);
  }
}

// -p_j (log p_j + H) g / T with log p_j = d_j - log S, d_j = x_j / T - m.
template <typename T>
ACERL_INLINE void entropy_grad_body(const T* x, int64_t V, float inv_t, float m, float inv_sum,
                                    float shift, float scale, T* out) {
  for (int64_t v = 0; v < V; ++v) {
    const float d = widen(x[v]) * inv_t - m;
    const float p = exp_or_zero(d) * inv_sum;
    const float t = p == 0.0f ? 0.0f : p * (d + shift);  // (a masked entry: 0)
    store(out + v, -t * scale);
  }
}

// The kept masses of n columns (n = kLanes in the vectorised blocks): exp(z - m) where z reaches
// the threshold and the mass does not underflow, else 0; NaN where z is NaN.
template <typename T>
ACERL_INLINE void kept_masses(const T* x, int n, float inv_t, float m, float threshold, float* e) {
  for (int j = 0; j < n; ++j) {
    const float z = widen(x[j]) * inv_t;
    const float d = z - m;
    e[j] = (z >= threshold || d != d) ? exp_or_zero(d) : 0.0f;
  }
}

// Walks a row's kept masses in column order, kLanes at a time (the full blocks with a constant
// count, which GCC vectorises), calling f(e, n, v) for the n masses from column v; stops when f
// returns true. The total and the pick sum the same masses in the same order.
template <typename T, typename F>
ACERL_INLINE void for_kept_blocks(const T* x, int64_t V, float inv_t, float m, float threshold,
                                  F&& f) {
  float e[kLanes];
  for (int64_t v = 0; v < V; v += kLanes) {
    const int n = v + kLanes <= V ? kLanes : static_cast<int>(V - v);
    if (n == kLanes)
      kept_masses(x + v, kLanes, inv_t, m, threshold, e);
    else
      kept_masses(x + v, n, inv_t, m, threshold, e);
    if (f(e, n, v)) return;
  }
}

template <typename T>
ACERL_INLINE double kept_mass_body(const T* x, int64_t V, float inv_t, float m, float threshold) {
  double total = 0;
  for_kept_blocks(x, V, inv_t, m, threshold, [&](const float* e, int n, int64_t) {
    for (int j = 0; j < n; ++j) total += e[j];
    return false;
  });
  return total;
}

template <typename T>
ACERL_INLINE int64_t pick_body(const T* x, int64_t V, float inv_t, float m, float threshold,
                               double target, double* chosen) {
  *chosen = 0;
  if (!(target >= 0)) return -1;
  double cum = 0;
  int64_t index = -1;
  for_kept_blocks(x, V, inv_t, m, threshold, [&](const float* e, int n, int64_t v) {
    for (int j = 0; j < n; ++j) {
      cum += e[j];
      if (cum > target) {
        *chosen = e[j];
        index = v + j;
        return true;
      }
    }
    return false;
  });
  return index;
}

// The target's column of a log-prob gradient row: (1 - p_t) g / T = (1 + e_t a) c.
template <typename T>
void target_column(const T* x, T* out, int64_t t, float inv_t, float m, float a, float c) {
  const float e = exp_or_zero(widen(x[t]) * inv_t - m);
  store(out + t, (1.0f + e * a) * c);
}

ACERL_CLONES float max_f32(const float* x, int64_t V, float inv_t) { return max_body(x, V, inv_t); }
ACERL_CLONES float max_bf16(const uint16_t* x, int64_t V, float inv_t) {
  return max_body(x, V, inv_t);
}
ACERL_CLONES void sum_f32(const float* x, int64_t V, float inv_t, float m, float* s, float* w) {
  sum_body(x, V, inv_t, m, s, w);
}
ACERL_CLONES void sum_bf16(const uint16_t* x, int64_t V, float inv_t, float m, float* s, float* w) {
  sum_body(x, V, inv_t, m, s, w);
}
ACERL_CLONES double kept_f32(const float* x, int64_t V, float inv_t, float m, float threshold) {
  return kept_mass_body(x, V, inv_t, m, threshold);
}
ACERL_CLONES double kept_bf16(const uint16_t* x, int64_t V, float inv_t, float m, float threshold) {
  return kept_mass_body(x, V, inv_t, m, threshold);
}
ACERL_CLONES int64_t pick_f32(const float* x, int64_t V, float inv_t, float m, float threshold,
                              double target, double* chosen) {
  return pick_body(x, V, inv_t, m, threshold, target, chosen);
}
ACERL_CLONES int64_t pick_bf16(const uint16_t* x, int64_t V, float inv_t, float m, float threshold,
                               double target, double* chosen) {
  return pick_body(x, V, inv_t, m, threshold, target, chosen);
}
ACERL_CLONES void lp_grad_f32(const float* x, int64_t V, float inv_t, float m, float a, float c,
                              float* out) {
  logprob_grad_body(x, V, inv_t, m, a, c, out);
}
ACERL_CLONES void lp_grad_bf16(const uint16_t* x, int64_t V, float inv_t, float m, float a, float c,
                               uint16_t* out) {
  logprob_grad_body(x, V, inv_t, m, a, c, out);
}
ACERL_CLONES void ent_grad_f32(const float* x, int64_t V, float inv_t, float m, float inv_sum,
                               float shift, float c, float* out) {
  entropy_grad_body(x, V, inv_t, m, inv_sum, shift, c, out);
}
ACERL_CLONES void ent_grad_bf16(const uint16_t* x, int64_t V, float inv_t, float m, float inv_sum,
                                float shift, float c, uint16_t* out) {
  entropy_grad_body(x, V, inv_t, m, inv_sum, shift, c, out);
}

// The rows of x as raw pointers, after checking the layout.
struct Rows {
  const char* data;
  int64_t n, v, stride, elem;
  bool bf16;
  explicit Rows(const torch::Tensor& x)
      : data(static_cast<const char*>(x.data_ptr())),
        n(x.size(0)),
        v(x.size(1)),
        stride(x.stride(0)),
        elem(x.element_size()),
        bf16(x.scalar_type() == torch::kBFloat16) {
    ACERL_CHECK(softmax_rows_apply(x) && x.dim() == 2 && x.stride(1) == 1,
                "softmax_rows: (N, V) CPU float32 or bfloat16 rows with unit stride, got ",
                x.scalar_type(), " ", x.sizes(), " on ", x.device());
  }
  const void* row(int64_t i) const { return data + i * stride * elem; }
  template <typename F>
  void for_rows(F&& f) const {
    // A few rows per task: each is a whole vocabulary shard.
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(v, 1));
    at::parallel_for(0, n, grain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) f(i);
    });
  }
};

torch::Tensor float_rows(const torch::Tensor& t, int64_t n, const char* what) {
  torch::Tensor out = t.to(torch::kFloat32).contiguous();
  ACERL_CHECK(out.numel() == n, "softmax_rows: ", what, " has ", out.numel(), " values for ", n,
              " rows");
  return out;
}

}  // namespace

bool softmax_rows_apply(const torch::Tensor& logits) {
  return logits.device().is_cpu() &&
         (logits.scalar_type() == torch::kFloat32 || logits.scalar_type() == torch::kBFloat16);
}

torch::Tensor rows_max(const torch::Tensor& x, double temperature) {
  const Rows rows(x);
  torch::Tensor m = torch::empty({rows.n}, torch::kFloat32);
  float* mp = m.data_ptr<float>();
  const auto inv_t = static_cast<float>(1.0 / temperature);
  rows.for_rows([&](int64_t i) {
    mp[i] = rows.bf16 ? max_bf16(static_cast<const uint16_t*>(rows.row(i)), rows.v, inv_t)
                      : max_f32(static_cast<const float*>(rows.row(i)), rows.v, inv_t);
  });
  return m;
}

void rows_sum_exp(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                  torch::Tensor& sum, torch::Tensor* weighted) {
  const Rows rows(x);
  const torch::Tensor mf = float_rows(m, rows.n, "the row maxima");
  sum = torch::empty({rows.n}, torch::kFloat32);
  if (weighted) *weighted = torch::empty({rows.n}, torch::kFloat32);
  const float* mp = mf.data_ptr<float>();
  float* sp = sum.data_ptr<float>();
  float* wp = weighted ? weighted->data_ptr<float>() : nullptr;
  const auto inv_t = static_cast<float>(1.0 / temperature);
  rows.for_rows([&](int64_t i) {
    float* w = wp ? wp + i : nullptr;
    if (rows.bf16)
      sum_bf16(static_cast<const uint16_t*>(rows.row(i)), rows.v, inv_t, mp[i], sp + i, w);
    else
      sum_f32(static_cast<const float*>(rows.row(i)), rows.v, inv_t, mp[i], sp + i, w);
  });
}

torch::Tensor rows_kept_mass(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                             const torch::Tensor& threshold) {
  const Rows rows(x);
  const torch::Tensor mf = float_rows(m, rows.n, "the row maxima"),
                      tf = float_rows(threshold, rows.n, "the thresholds");
  torch::Tensor total = torch::empty({rows.n}, torch::kFloat64);
  const float *mp = mf.data_ptr<float>(), *thr = tf.data_ptr<float>();
  double* out = total.data_ptr<double>();
  const auto inv_t = static_cast<float>(1.0 / temperature);
  rows.for_rows([&](int64_t i) {
    out[i] = rows.bf16 ? kept_bf16(static_cast<const uint16_t*>(rows.row(i)), rows.v, inv_t, mp[i],
                                   thr[i])
                       : kept_f32(static_cast<const float*>(rows.row(i)), rows.v, inv_t, mp[i],
                                  thr[i]);
  });
  return total;
}

void rows_pick(const torch::Tensor& x, double temperature, const torch::Tensor& m,
               const torch::Tensor& threshold, const torch::Tensor& target, torch::Tensor& index,
               torch::Tensor& chosen) {
  const Rows rows(x);
  const torch::Tensor mf = float_rows(m, rows.n, "the row maxima"),
                      tf = float_rows(threshold, rows.n, "the thresholds");
  const torch::Tensor targets = target.to(torch::kFloat64).contiguous();
  ACERL_CHECK(targets.numel() == rows.n, "softmax_rows: ", targets.numel(), " targets for ",
              rows.n, " rows");
  index = torch::empty({rows.n}, torch::kInt64);
  chosen = torch::empty({rows.n}, torch::kFloat64);
  const float *mp = mf.data_ptr<float>(), *thr = tf.data_ptr<float>();
  const double* tp = targets.data_ptr<double>();
  int64_t* ip = index.data_ptr<int64_t>();
  double* cp = chosen.data_ptr<double>();
  const auto inv_t = static_cast<float>(1.0 / temperature);
  rows.for_rows([&](int64_t i) {
    ip[i] = rows.bf16 ? pick_bf16(static_cast<const uint16_t*>(rows.row(i)), rows.v, inv_t, mp[i],
                                  thr[i], tp[i], cp + i)
                      : pick_f32(static_cast<const float*>(rows.row(i)), rows.v, inv_t, mp[i],
                                 thr[i], tp[i], cp + i);
  });
}

torch::Tensor logprob_grad(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                           const torch::Tensor& sum, const torch::Tensor& g,
                           const torch::Tensor& target, const torch::Tensor& hit) {
  const Rows rows(x);
  const torch::Tensor mf = float_rows(m, rows.n, "the row maxima"),
                      sf = float_rows(sum, rows.n, "the row sums"),
                      gf = float_rows(g, rows.n, "the incoming gradient"),
                      hf = float_rows(hit, rows.n, "the target flags");
  const torch::Tensor tg = target.to(torch::kInt64).contiguous();
  ACERL_CHECK(tg.numel() == rows.n, "softmax_rows: ", tg.numel(), " targets for ", rows.n, " rows");
  torch::Tensor out = torch::empty({rows.n, rows.v}, x.options());
  const float *mp = mf.data_ptr<float>(), *sp = sf.data_ptr<float>(), *gp = gf.data_ptr<float>(),
              *hp = hf.data_ptr<float>();
  const int64_t* tp = tg.data_ptr<int64_t>();
  const auto inv_t = static_cast<float>(1.0 / temperature);
  char* op = static_cast<char*>(out.data_ptr());
  rows.for_rows([&](int64_t i) {
    const float c = gp[i] * inv_t, a = -1.0f / sp[i];
    char* o = op + i * rows.v * rows.elem;
    const int64_t t = tp[i];
    if (rows.bf16) {
      auto* ob = reinterpret_cast<uint16_t*>(o);
      const auto* xb = static_cast<const uint16_t*>(rows.row(i));
      lp_grad_bf16(xb, rows.v, inv_t, mp[i], a, c, ob);
      if (hp[i] != 0) target_column(xb, ob, t, inv_t, mp[i], a, c);
    } else {
      auto* of = reinterpret_cast<float*>(o);
      const auto* xf = static_cast<const float*>(rows.row(i));
      lp_grad_f32(xf, rows.v, inv_t, mp[i], a, c, of);
      if (hp[i] != 0) target_column(xf, of, t, inv_t, mp[i], a, c);
    }
  });
  return out;
}

torch::Tensor entropy_grad(const torch::Tensor& x, double temperature, const torch::Tensor& m,
                           const torch::Tensor& sum, const torch::Tensor& entropy,
                           const torch::Tensor& g) {
  const Rows rows(x);
  const torch::Tensor mf = float_rows(m, rows.n, "the row maxima"),
                      sf = float_rows(sum, rows.n, "the row sums"),
                      hf = float_rows(entropy, rows.n, "the entropies"),
                      gf = float_rows(g, rows.n, "the incoming gradient");
  torch::Tensor out = torch::empty({rows.n, rows.v}, x.options());
  const float *mp = mf.data_ptr<float>(), *sp = sf.data_ptr<float>(), *hp = hf.data_ptr<float>(),
              *gp = gf.data_ptr<float>();
  const auto inv_t = static_cast<float>(1.0 / temperature);
  char* op = static_cast<char*>(out.data_ptr());
  rows.for_rows([&](int64_t i) {
    // log p_j + H = d_j - log S + H
    const float inv_sum = 1.0f / sp[i], shift = hp[i] - std::log(sp[i]), c = gp[i] * inv_t;
    char* o = op + i * rows.v * rows.elem;
    if (rows.bf16)
      ent_grad_bf16(static_cast<const uint16_t*>(rows.row(i)), rows.v, inv_t, mp[i], inv_sum, shift,
                    c, reinterpret_cast<uint16_t*>(o));
    else
      ent_grad_f32(static_cast<const float*>(rows.row(i)), rows.v, inv_t, mp[i], inv_sum, shift, c,
                   reinterpret_cast<float*>(o));
  });
  return out;
}

}  // namespace acerl::parallel
