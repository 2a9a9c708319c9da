// Preallocated KV cache; see kv_cache.h.
#include "model/kv_cache.h"

#include <cstring>

#include "runtime/error.h"

namespace acerl::model {

KvCache KvCache::allocate(int64_t n_layer, int64_t batch, int64_t n_head_kv, int64_t max_len,
                          int64_t head_dim, torch::ScalarType dtype, torch::Device device) {
  auto options = torch::TensorOptions().dtype(dtype).device(device);
  return {torch::zeros({n_layer, batch, n_head_kv, max_len, head_dim}, options),
          torch::zeros({n_layer, batch, n_head_kv, max_len, head_dim}, options)};
}

namespace {

// On the CPU: each (row, head, position) vector is copied into its slot (a decode step writes B x
// n_kv vectors; the indexed write below takes six operators per call for that).
void write_cpu(torch::Tensor cache, const torch::Tensor& values, const torch::Tensor& slots) {
  const torch::Tensor src = values.to(cache.scalar_type());
  const torch::Tensor where = slots.to(torch::kInt64).contiguous();
  const int64_t B = src.size(0), n_kv = src.size(1), T = src.size(2), hd = src.size(3);
  const int64_t max_len = cache.size(2), elem = cache.element_size();
  ACERL_CHECK(src.dim() == 4 && B <= cache.size(0) && n_kv == cache.size(1) &&
                  where.numel() == B * T,
              "KV cache write: values ", src.sizes(), " and ", where.numel(),
              " slots for a cache layer of ", cache.sizes());
  const int64_t* wp = where.data_ptr<int64_t>();
  for (int64_t i = 0; i < B * T; ++i)
    ACERL_CHECK(wp[i] >= 0 && wp[i] < max_len, "KV cache write: slot ", wp[i], " outside [0, ",
                max_len, ")");
  const auto* sp = static_cast<const char*>(src.data_ptr());
  auto* cp = static_cast<char*>(cache.data_ptr());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < n_kv; ++h)
      for (int64_t t = 0; t < T; ++t)
        std::memcpy(cp + (b * cache.stride(0) + h * cache.stride(1) +
                          wp[b * T + t] * cache.stride(2)) * elem,
                    sp + (b * src.stride(0) + h * src.stride(1) + t * src.stride(2)) * elem,
                    static_cast<size_t>(hd * elem));
}

bool write_cpu_applies(const torch::Tensor& cache, const torch::Tensor& values) {
  // (Without autograd: the copies bypass the cache's version counter.)
  return cache.device().is_cpu() && values.device().is_cpu() && !torch::GradMode::is_enabled() &&
         cache.stride(3) == 1 &&
         values.stride(3) == 1 && values.size(3) == cache.size(3);
}

}  // namespace

void KvCache::write(int64_t layer, const torch::Tensor& new_k, const torch::Tensor& new_v,
                    const torch::Tensor& slots) {
  torch::Tensor k_layer = k[layer], v_layer = v[layer];
  if (write_cpu_applies(k_layer, new_k) && write_cpu_applies(v_layer, new_v)) {
    write_cpu(k_layer, new_k, slots);
    write_cpu(v_layer, new_v, slots);
    return;
  }
  const int64_t B = new_k.size(0), n_kv = new_k.size(1), T = new_k.size(2);
  auto index = torch::TensorOptions().dtype(torch::kInt64).device(slots.device());
  torch::Tensor rows = torch::arange(B, index).view({B, 1, 1});
  torch::Tensor heads = torch::arange(n_kv, index).view({1, n_kv, 1});
  torch::Tensor where = slots.view({B, 1, T});
  // Advanced indexing on (B, n_kv, slot) broadcasts to (B, n_kv, T); values are (B, n_kv, T, hd).
  k[layer].index_put_({rows, heads, where}, new_k.to(k.scalar_type()));
  v[layer].index_put_({rows, heads, where}, new_v.to(v.scalar_type()));
}

void KvCache::select_rows(const torch::Tensor& rows) {
  k = k.index_select(1, rows);
  v = v.index_select(1, rows);
}

void KvCache::move_rows(const std::vector<int64_t>& from, const std::vector<int64_t>& to,
                        int64_t keep) {
  if (!from.empty()) {
    torch::Tensor src = torch::tensor(from, torch::kInt64).to(k.device());
    torch::Tensor dst = torch::tensor(to, torch::kInt64).to(k.device());
    k.index_copy_(1, dst, k.index_select(1, src));
    v.index_copy_(1, dst, v.index_select(1, src));
  }
  k = k.narrow(1, 0, keep);
  v = v.narrow(1, 0, keep);
}

void KvCache::append_rows(const KvCache& other) {
  if (!k.defined()) {
    *this = other;
    return;
  }
  k = torch::cat({k, other.k}, 1);
  v = torch::cat({v, other.v}, 1);
}

}  // namespace acerl::model
