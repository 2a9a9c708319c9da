// defines: KvCache, the preallocated key/value store of incremental decoding: one slot per
// position, written in place (no per-step concatenation). Slot index = position id, so a row's
// keys for positions [0, n) sit in slots [0, n) whatever the other rows' lengths.
#pragma once

#include <torch/torch.h>

namespace acerl::model {

struct KvCache {
  torch::Tensor k, v;  // (n_layer_local, B, n_head_kv/tp, max_len, head_dim)

  static KvCache allocate(int64_t n_layer, int64_t batch, int64_t n_head_kv, int64_t max_len,
                          int64_t head_dim, torch::ScalarType dtype,
                          torch::Device device = torch::kCPU);
  int64_t batch() const { return k.size(1); }
  int64_t max_len() const { return k.size(3); }
  // Writes new keys/values (B, n_kv, T, hd) of `layer` into the slots `slots` (B, T); the
  // caller guarantees slots < max_len (checked once per step by the model, not per layer).
  void write(int64_t layer, const torch::Tensor& new_k, const torch::Tensor& new_v,
             const torch::Tensor& slots);
  // Keeps only the rows `rows` (int64 indices), in that order: finished sequences leave the batch.
  void select_rows(const torch::Tensor& rows);
  // Keeps the first `keep` rows, after copying row from[i] into row to[i] for every i: finished
  // sequences leave the batch by having later live rows move into their places, so that only
  // the moved rows are copied (a view of the first rows, no new cache).
  void move_rows(const std::vector<int64_t>& from, const std::vector<int64_t>& to, int64_t keep);
  // Appends the rows of `other` (same layers, heads and capacity): a refill joins the batch.
  void append_rows(const KvCache& other);
};

}  // namespace acerl::model
