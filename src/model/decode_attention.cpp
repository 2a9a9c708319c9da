// The CPU attention of decode steps; see decode_attention.h.
//
// One (row, KV head) pair is one task: its G query rows are scored against the row's valid slots
// (each key read once for all G), softmaxed, and the values summed, all in float32 in a scratch
// row per thread. The loops are written in 16-lane blocks that the compiler vectorises for the
// widest unit the CPU has (on x86-64, target_clones picks AVX-512, AVX2 or the baseline at load
// time); the file is built with -ffp-contract=off, so every clone rounds alike.
#include "model/decode_attention.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "parallel/cpu_math.h"
#include "runtime/error.h"

namespace acerl::model {
namespace {

using namespace parallel::cpu_math;

template <typename T>
ACERL_INLINE float dot(const float* q, const T* k, int64_t hd) {
  float acc[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= hd; d += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += q[d + j] * widen(k[d + j]);
  for (int j = 0; d < hd; ++d, ++j) acc[j] += q[d] * widen(k[d]);
  return lane_sum(acc);
}

// One (row, KV head): out (G, hd) from q (G, hd) and the first `len` slots of k and v.
template <typename T>
ACERL_INLINE void pair_body(const float* q, const T* k, const T* v, int64_t k_step, int64_t v_step,
                            int64_t len, int64_t G, int64_t hd, float scale, float* scores,
                            float* out) {
  for (int64_t s = 0; s < len; ++s) {
    const T* key = k + s * k_step;
    for (int64_t g = 0; g < G; ++g) scores[g * len + s] = dot(q + g * hd, key, hd) * scale;
  }
  for (int64_t g = 0; g < G; ++g) {
    float* x = scores + g * len;
    float m = x[0];
    for (int64_t s = 1; s < len; ++s) m = x[s] > m ? x[s] : m;
    for (int64_t s = 0; s < len; ++s) x[s] = exp_nonpositive(x[s] - m);
    float acc[kLanes] = {};
    int64_t s = 0;
    for (; s + kLanes <= len; s += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += x[s + j];
    for (int j = 0; s < len; ++s, ++j) acc[j] += x[s];
    const float inv = 1.0f / lane_sum(acc);
    for (int64_t i = 0; i < len; ++i) x[i] *= inv;
  }
  std::fill(out, out + G * hd, 0.0f);
  for (int64_t s = 0; s < len; ++s) {
    const T* value = v + s * v_step;
    for (int64_t g = 0; g < G; ++g) {
      const float p = scores[g * len + s];
      float* o = out + g * hd;
      for (int64_t d = 0; d < hd; ++d) o[d] += p * widen(value[d]);
    }
  }
}

ACERL_CLONES void pair_f32(const float* q, const float* k, const float* v, int64_t k_step,
                           int64_t v_step, int64_t len, int64_t G, int64_t hd, float scale,
                           float* scores, float* out) {
  pair_body(q, k, v, k_step, v_step, len, G, hd, scale, scores, out);
}

ACERL_CLONES void pair_bf16(const float* q, const uint16_t* k, const uint16_t* v, int64_t k_step,
                            int64_t v_step, int64_t len, int64_t G, int64_t hd, float scale,
                            float* scores, float* out) {
  pair_body(q, k, v, k_step, v_step, len, G, hd, scale, scores, out);
}

}  // namespace

float decode_attention_exp(float x) { return exp_nonpositive(x); }

bool decode_attention_applies(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v) {
  auto cache_ok = [&](const torch::Tensor& t) {
    return t.device().is_cpu() && t.dim() == 4 && t.stride(3) == 1 &&
           (t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16);
  };
  return cache_ok(k) && cache_ok(v) && k.scalar_type() == v.scalar_type() &&
         !(q.requires_grad() && torch::GradMode::is_enabled());
}

torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& lengths) {
  RECORD_FUNCTION("acerl::decode_attention", std::vector<c10::IValue>());  // (a profiler operator)
  ACERL_CHECK(decode_attention_applies(q, k, v), "decode_attention: unsupported cache (",
              k.scalar_type(), " on ", k.device(), ")");
  const int64_t B = q.size(0), KV = q.size(1), G = q.size(2), hd = q.size(3), S = k.size(2);
  ACERL_CHECK(k.size(0) == B && k.size(1) == KV && k.size(3) == hd && v.sizes() == k.sizes(),
              "decode_attention: q ", q.sizes(), " does not match k ", k.sizes(), " / v ",
              v.sizes());
  torch::Tensor len = lengths.to(torch::kInt64).contiguous();
  ACERL_CHECK(len.device().is_cpu() && len.numel() == B, "decode_attention: ", len.numel(),
              " lengths for ", B, " rows");
  const int64_t* lens = len.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b)
    ACERL_CHECK(lens[b] >= 1 && lens[b] <= S, "decode_attention: row ", b, " attends to ", lens[b],
                " slots of ", S);
  const torch::Tensor qf = q.to(torch::kFloat32).contiguous();
  torch::Tensor out = torch::empty({B, KV, G, hd}, qf.options());
  const float* qp = qf.data_ptr<float>();
  float* op = out.data_ptr<float>();
  const bool bf16 = k.scalar_type() == torch::kBFloat16;
  const auto* kp = static_cast<const char*>(k.data_ptr());
  const auto* vp = static_cast<const char*>(v.data_ptr());
  const int64_t elem = k.element_size();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  // About 64K floating-point operations per task at least, so that small steps stay on one thread.
  const int64_t work = std::max<int64_t>(1, 4 * G * hd * S);
  const int64_t grain = std::max<int64_t>(1, 65536 / work);
  at::parallel_for(0, B * KV, grain, [&](int64_t begin, int64_t end) {
    std::vector<float> scores(static_cast<size_t>(G * S));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / KV, h = i % KV;
      const char* kb = kp + (b * k.stride(0) + h * k.stride(1)) * elem;
      const char* vb = vp + (b * v.stride(0) + h * v.stride(1)) * elem;
      const float* qi = qp + i * G * hd;
      float* oi = op + i * G * hd;
      if (bf16)
        pair_bf16(qi, reinterpret_cast<const uint16_t*>(kb), reinterpret_cast<const uint16_t*>(vb),
                  k.stride(2), v.stride(2), lens[b], G, hd, scale, scores.data(), oi);
      else
        pair_f32(qi, reinterpret_cast<const float*>(kb), reinterpret_cast<const float*>(vb),
                 k.stride(2), v.stride(2), lens[b], G, hd, scale, scores.data(), oi);
    }
  });
  return out.to(q.scalar_type());
}

}  // namespace acerl::model
