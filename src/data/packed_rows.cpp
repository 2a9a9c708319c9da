// Training rows: narrowing and moving between devices; see packed_rows.h.
#include "data/packed_rows.h"

namespace acerl::data {

namespace {

// `f` applied to every tensor field of `rows` (undefined ones included).
template <typename F>
PackedRows map_fields(const PackedRows& rows, F f) {
  PackedRows out;
  out.ids = f(rows.ids);
  out.positions = f(rows.positions);
  out.doc_ids = f(rows.doc_ids);
  out.targets = f(rows.targets);
  out.weights = f(rows.weights);
  out.advantages = f(rows.advantages);
  out.rollout_logprobs = f(rows.rollout_logprobs);
  out.ref_logprobs = f(rows.ref_logprobs);
  return out;
}

}  // namespace

PackedRows PackedRows::narrow(int64_t start, int64_t count) const {
  return map_fields(*this, [&](const torch::Tensor& t) {
    return t.defined() ? t.narrow(0, start, count) : t;
  });
}

PackedRows PackedRows::to(const torch::Device& device) const {
  return map_fields(*this, [&](const torch::Tensor& t) {
    if (!t.defined() || t.device() == device) return t;
    if (device.is_cuda() && t.is_cpu()) return t.pin_memory().to(device, /*non_blocking=*/true);
    return t.to(device);
  });
}

}  // namespace acerl::data
