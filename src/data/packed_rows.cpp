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
  out.segment_ids = f(rows.segment_ids);
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

PackedRows PackedRows::narrow_columns(int64_t length) const {
  if (length >= ids.size(1)) return *this;
  return map_fields(*this, [&](const torch::Tensor& t) {
    return t.defined() ? t.narrow(1, 0, length).contiguous() : t;
  });
}

torch::Tensor PackedRows::used_columns() const {
  if (!doc_ids.defined()) return torch::Tensor();
  // The last column holding a document, + 1, per row (0 for an empty row).
  torch::Tensor column = torch::arange(1, doc_ids.size(1) + 1, doc_ids.options());
  return (doc_ids.ge(0).to(doc_ids.scalar_type()) * column).amax(1).cpu();
}

PackedRows PackedRows::to(const torch::Device& device) const {
  return map_fields(*this, [&](const torch::Tensor& t) {
    if (!t.defined() || t.device() == device) return t;
    if (device.is_cuda() && t.is_cpu()) return t.pin_memory().to(device, /*non_blocking=*/true);
    return t.to(device);
  });
}

}  // namespace acerl::data
