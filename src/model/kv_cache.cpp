// Preallocated KV cache; see kv_cache.h.
#include "model/kv_cache.h"

namespace acerl::model {

KvCache KvCache::allocate(int64_t n_layer, int64_t batch, int64_t n_head_kv, int64_t max_len,
                          int64_t head_dim, torch::ScalarType dtype, torch::Device device) {
  auto options = torch::TensorOptions().dtype(dtype).device(device);
  return {torch::zeros({n_layer, batch, n_head_kv, max_len, head_dim}, options),
          torch::zeros({n_layer, batch, n_head_kv, max_len, head_dim}, options)};
}

void KvCache::write(int64_t layer, const torch::Tensor& new_k, const torch::Tensor& new_v,
                    const torch::Tensor& slots) {
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
