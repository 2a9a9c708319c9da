// Packing and row materialisation; see packing.h.
#include "data/packing.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace acerl::data {
namespace {

std::vector<RowPlan> pack(const std::vector<Document>& docs, const std::vector<int64_t>& order,
                          int64_t seq_len) {
  std::vector<RowPlan> rows;
  int64_t used = seq_len;  // forces a first row
  for (int64_t d : order) {
    const int64_t n = static_cast<int64_t>(docs[static_cast<size_t>(d)].ids.size());
    if (n == 0) continue;
    if (used + n > seq_len) {
      rows.emplace_back();
      used = 0;
    }
    rows.back().push_back(d);
    used += n;
  }
  return rows;
}

}  // namespace

std::vector<RowPlan> pack_epoch(const std::vector<Document>& docs, int64_t seq_len, uint64_t seed,
                                int64_t epoch) {
  std::vector<int64_t> order(docs.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003ull + static_cast<uint64_t>(epoch));
  std::shuffle(order.begin(), order.end(), rng);
  return pack(docs, order, seq_len);
}

std::vector<RowPlan> pack_in_order(const std::vector<Document>& docs, int64_t seq_len) {
  std::vector<int64_t> order(docs.size());
  std::iota(order.begin(), order.end(), 0);
  return pack(docs, order, seq_len);
}

PackedRows materialize(const std::vector<RowPlan>& plans, int64_t first, int64_t count,
                              const std::vector<Document>& docs, int64_t seq_len) {
  PackedRows r;
  r.ids = torch::zeros({count, seq_len}, torch::kInt64);
  r.positions = torch::zeros({count, seq_len}, torch::kInt64);
  r.doc_ids = torch::full({count, seq_len}, -1, torch::kInt64);
  r.targets = torch::zeros({count, seq_len}, torch::kInt64);
  r.weights = torch::zeros({count, seq_len}, torch::kFloat32);
  auto ids = r.ids.accessor<int64_t, 2>(), pos = r.positions.accessor<int64_t, 2>();
  auto doc = r.doc_ids.accessor<int64_t, 2>(), tgt = r.targets.accessor<int64_t, 2>();
  auto w = r.weights.accessor<float, 2>();
  for (int64_t row = 0; row < count; ++row) {
    const int64_t plan = first + row;
    if (plan >= static_cast<int64_t>(plans.size())) continue;  // padding row
    int64_t at = 0, k = 0;
    for (int64_t d : plans[static_cast<size_t>(plan)]) {
      const Document& document = docs[static_cast<size_t>(d)];
      const int64_t n = static_cast<int64_t>(document.ids.size());
      for (int64_t t = 0; t < n; ++t, ++at) {
        ids[row][at] = document.ids[static_cast<size_t>(t)];
        pos[row][at] = t;
        doc[row][at] = k;
        if (t + 1 < n) {
          tgt[row][at] = document.ids[static_cast<size_t>(t + 1)];
          w[row][at] = document.loss_mask[static_cast<size_t>(t + 1)];
        }
      }
      ++k;
    }
  }
  return r;
}

int64_t steps_per_epoch(int64_t rows, int64_t global_batch) {
  return (rows + global_batch - 1) / global_batch;
}

}  // namespace acerl::data
