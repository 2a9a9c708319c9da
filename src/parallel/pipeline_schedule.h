// defines: the pipeline-parallel schedules. run_1f1b trains over micro-batches with the
// one-forward-one-backward schedule (warm-up, steady 1F1B, cool-down); pipeline_forward passes
// one batch through the stages for inference (prefill and decode).
// Activations travel forward (tag 0) and their gradients backward (tag 1) over the pp
// communicator. Sends are non-blocking and receives blocking, in the same order on both sides,
// so no two stages can wait on each other.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "parallel/process_groups.h"

namespace acerl::parallel {

struct PipelineStep {
  int64_t n_micro = 1;
  // What stages exchange for micro-batch i, e.g. (b_i, T, d): the last one may have fewer rows.
  std::function<std::vector<int64_t>(int64_t micro)> activation_shape;
  torch::ScalarType activation_dtype = torch::kFloat32;
  // First stage: the input of micro-batch i (token ids).
  std::function<torch::Tensor(int64_t micro)> first_input;
  // This stage's forward of micro-batch i; `input` is first_input(i) or the received activation.
  std::function<torch::Tensor(int64_t micro, const torch::Tensor& input)> forward;
  // Last stage: the scalar loss of micro-batch i from the stage output.
  std::function<torch::Tensor(int64_t micro, const torch::Tensor& output)> loss;
  // Called before each backward (e.g. to arm data-parallel gradient sync on the last one).
  std::function<void(int64_t micro)> before_backward;
};

// Runs forward and backward of every micro-batch; gradients accumulate in the parameters.
// Returns the sum of the micro-batch losses on the last stage, 0 elsewhere.
double run_1f1b(const ProcessGroups& groups, const PipelineStep& step);

// Inference: first stage gets `first_input`; every stage applies `forward` and hands its output
// to the next. Returns the last stage's output there, an undefined tensor elsewhere.
torch::Tensor pipeline_forward(const ProcessGroups& groups, const torch::Tensor& first_input,
                               const std::vector<int64_t>& activation_shape,
                               torch::ScalarType activation_dtype,
                               const std::function<torch::Tensor(const torch::Tensor&)>& forward);

}  // namespace acerl::parallel
