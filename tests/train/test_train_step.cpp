// forward_backward computes each micro-batch only as wide as its rows' documents: the padding
// columns rows end with are cut, and the loss and gradients are those of the full-width rows.
#include "support/catch.h"

#include <torch/torch.h>

#include "model/qwen2.h"
#include "support/tiny_model.h"
#include "train/train_step.h"

using namespace acerl;

namespace {

// Four rows of 24 columns holding one document each, of 20, 7, 5 and 0 tokens.
train::PackedRows padded_rows() {
  const std::vector<int64_t> lengths = {20, 7, 5, 0};
  const int64_t n = 4, T = 24;
  train::PackedRows rows;
  rows.ids = torch::zeros({n, T}, torch::kInt64);
  rows.positions = torch::zeros({n, T}, torch::kInt64);
  rows.doc_ids = torch::full({n, T}, -1, torch::kInt64);
  rows.targets = torch::zeros({n, T}, torch::kInt64);
  rows.weights = torch::zeros({n, T});
  for (int64_t r = 0; r < n; ++r) {
    const int64_t len = lengths[static_cast<size_t>(r)];
    if (len == 0) continue;
    auto ids = test::random_ids(len, 256, 7 + r);
    for (int64_t t = 0; t < len; ++t) {
      rows.ids[r][t] = ids[static_cast<size_t>(t)];
      rows.positions[r][t] = t;
      rows.doc_ids[r][t] = 0;
      if (t + 1 < len) {
        rows.targets[r][t] = ids[static_cast<size_t>(t + 1)];
        rows.weights[r][t] = 1.0;
      }
    }
  }
  return rows;
}

}  // namespace

TEST_CASE("packed rows know their used columns and narrow to them", "[train]") {
  train::PackedRows rows = padded_rows();
  torch::Tensor used = rows.used_columns();
  CHECK(used.equal(torch::tensor({20, 7, 5, 0}, torch::kInt64)));
  train::PackedRows cut = rows.narrow(1, 2).narrow_columns(7);
  CHECK(cut.ids.sizes() == torch::IntArrayRef({2, 7}));
  CHECK(cut.ids.equal(rows.ids.narrow(0, 1, 2).narrow(1, 0, 7)));
  CHECK(cut.ids.is_contiguous());
  train::PackedRows no_docs = rows;
  no_docs.doc_ids = torch::Tensor();
  CHECK_FALSE(no_docs.used_columns().defined());
}

TEST_CASE("micro-batches cut to their documents give the full-width loss and gradients",
          "[train]") {
  auto groups = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM m(test::tiny_config(), *groups);
  model::init_parameters(*m, 4);
  // The reference: the same rows without document ids are computed at their full width (one
  // causal document per row: the trailing padding cannot reach the tokens before it).
  train::PackedRows cut = padded_rows(), full = padded_rows();
  full.doc_ids = torch::Tensor();
  auto grads = [&](const train::PackedRows& rows, int64_t micro) {
    for (auto& p : m->parameters()) p.mutable_grad() = torch::Tensor();
    auto r = train::forward_backward(*m, *groups, rows, micro, model::Precision::fp32, nullptr);
    std::vector<torch::Tensor> out;
    for (auto& p : m->parameters()) out.push_back(p.grad().clone());
    return std::make_pair(r.loss, out);
  };
  const auto reference = grads(full, 4);
  for (int64_t micro : {1, 2, 3, 4}) {
    INFO("micro-batch rows " << micro);
    const auto got = grads(cut, micro);
    CHECK(got.first == Approx(reference.first).epsilon(1e-5));
    for (size_t i = 0; i < got.second.size(); ++i)
      CHECK(torch::allclose(got.second[i], reference.second[i], 1e-4, 1e-6));
  }
}
