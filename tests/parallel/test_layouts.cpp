// One training step (forward, backward, gradient sync, clipping norm, AdamW) under every layout
// of 2 and 4 ranks equals the single-process step from the same weights and data: loss to 1e-5
// relative, updated parameters to 1e-5, in fp32. Each rank compares its own shards with the
// matching slices of a single-process model it runs itself.
#include "support/catch.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>

#include "model/qwen2_weights.h"
#include "parallel/grad_sync.h"
#include "parallel/process_groups.h"
#include "support/tiny_model.h"
#include "train/train_step.h"

using namespace acerl;

namespace {

constexpr int64_t kRows = 4, kT = 12;

// Four rows of two packed documents each, loss on a pseudo-random subset of tokens.
train::PackedRows global_rows(const model::Qwen2Config& config) {
  train::PackedRows r;
  auto ids = test::random_ids(kRows * kT, config.vocab_size, 5);
  r.ids = torch::tensor(ids, torch::kInt64).view({kRows, kT});
  r.positions = torch::zeros({kRows, kT}, torch::kInt64);
  r.doc_ids = torch::zeros({kRows, kT}, torch::kInt64);
  r.targets = torch::zeros({kRows, kT}, torch::kInt64);
  r.weights = torch::zeros({kRows, kT});
  for (int64_t row = 0; row < kRows; ++row) {
    const int64_t split = 4 + row;  // first document's length
    for (int64_t t = 0; t < kT; ++t) {
      const bool second = t >= split;
      r.positions[row][t] = second ? t - split : t;
      r.doc_ids[row][t] = second ? 1 : 0;
      const bool doc_end = t == split - 1 || t == kT - 1;
      r.targets[row][t] = doc_end ? 0 : ids[static_cast<size_t>(row * kT + t + 1)];
      r.weights[row][t] = (!doc_end && (t * 7 + row) % 3 != 0) ? 1.0 : 0.0;
    }
  }
  return r;
}

struct StepOutcome {
  double loss = 0, grad_norm = 0;
};

StepOutcome train_one_step(model::Qwen2ForCausalLMImpl& m, const parallel::ProcessGroups& groups,
                           const train::PackedRows& rows) {
  std::vector<torch::Tensor> params, split, replicated;
  for (const auto& s : m.param_shards()) {
    params.push_back(s.tensor);
    (s.split_dim >= 0 ? split : replicated).push_back(s.tensor);
  }
  parallel::GradSync sync(params, groups.dp(), /*bucket_bytes=*/16 << 10);
  sync.zero_grad();
  auto result =
      train::forward_backward(m, groups, rows, /*micro_rows=*/1, model::Precision::fp32, &sync);
  StepOutcome out;
  out.loss = result.loss;
  out.grad_norm = parallel::clip_grad_norm(split, replicated, groups, /*max_norm=*/1e9);
  // Adam's first step is lr * g / (|g| + eps): where |g| is near the fp32 noise of a different
  // summation order (~1e-7 of the gradient scale), the default eps = 1e-8 turns that noise into
  // steps of +-lr, whatever the layout. eps = 1e-4 keeps the update a smooth function of g, so
  // the parameter comparison reflects the gradients, which are also compared directly.
  torch::optim::AdamW adamw(params, torch::optim::AdamWOptions(1e-3).weight_decay(0.01).eps(1e-4));
  adamw.step();
  return out;
}

void check_layout(parallel::Layout layout, const std::string& checkpoint) {
  INFO("layout tp=" << layout.tp << " pp=" << layout.pp << " dp=" << layout.dp);
  auto config = model::Qwen2Config::from_file(checkpoint);
  train::PackedRows all = global_rows(config);

  auto single = parallel::ProcessGroups::single();
  auto reference = model::load_pretrained(checkpoint, *single);
  StepOutcome expected = train_one_step(*reference, *single, all);
  std::map<std::string, torch::Tensor> ref_params;
  std::map<std::string, torch::Tensor> ref_grads;
  for (const auto& s : reference->param_shards()) {
    ref_params[s.name] = s.tensor.detach();
    ref_grads[s.name] = s.tensor.grad();
  }

  parallel::ProcessGroups groups(MPI_COMM_WORLD, layout);
  auto m = model::load_pretrained(checkpoint, groups);
  const int64_t per_replica = kRows / layout.dp;
  StepOutcome got =
      train_one_step(*m, groups, all.narrow(groups.dp_rank() * per_replica, per_replica));

  CHECK(got.loss == Approx(expected.loss).epsilon(1e-5));
  CHECK(got.grad_norm == Approx(expected.grad_norm).epsilon(1e-5));
  double worst = 0, worst_grad = 0;
  for (const auto& s : m->param_shards()) {
    torch::Tensor ref_grad = ref_grads.at(s.name);
    if (s.split_dim >= 0)
      ref_grad = ref_grad.narrow(s.split_dim, s.offset, s.tensor.size(s.split_dim));
    const double scale = ref_grads.at(s.name).abs().max().item<double>();
    worst_grad = std::max(
        worst_grad, (s.tensor.grad() - ref_grad).abs().max().item<double>() / (scale + 1e-12));
    torch::Tensor ref = ref_params.at(s.name);
    if (s.split_dim >= 0) ref = ref.narrow(s.split_dim, s.offset, s.tensor.size(s.split_dim));
    worst = std::max(worst, (s.tensor.detach() - ref).abs().max().item<double>());
  }
  CHECK(worst < 1e-5);
  CHECK(worst_grad < 1e-5);  // relative to each tensor's largest gradient
  // The step moved the weights by far more than the tolerance (lr 1e-3): the comparison is not
  // between two untouched copies.
  io::SafetensorsReader original(checkpoint);
  const std::string probe = "model.layers.0.mlp.up_proj.weight";
  CHECK((ref_params.at(probe) - original.get(probe)).abs().max().item<double>() > 1e-4);
}

std::string shared_checkpoint() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string dir = std::string(ACERL_BINARY_DIR) + "/test-tmp/layouts_checkpoint";
  if (rank == 0) {
    std::filesystem::create_directories(dir);
    test::write_tiny_checkpoint(dir, test::tiny_config(), 3);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

}  // namespace

TEST_CASE("a training step is the same on 2 ranks as on 1: (2,1,1) (1,2,1) (1,1,2)",
          "[parallel-np2]") {
  std::string checkpoint = shared_checkpoint();
  for (parallel::Layout layout :
       {parallel::Layout{2, 1, 1}, parallel::Layout{1, 2, 1}, parallel::Layout{1, 1, 2}})
    check_layout(layout, checkpoint);
}

TEST_CASE("a training step is the same on 4 ranks as on 1: (2,2,1) (1,2,2) (2,1,2)",
          "[parallel-np4]") {
  std::string checkpoint = shared_checkpoint();
  for (parallel::Layout layout :
       {parallel::Layout{2, 2, 1}, parallel::Layout{1, 2, 2}, parallel::Layout{2, 1, 2}})
    check_layout(layout, checkpoint);
}
