// 1F1B pipeline schedule and inference pass-through; see pipeline_schedule.h.
#include "parallel/pipeline_schedule.h"

#include <deque>
#include <memory>

#include "runtime/error.h"

namespace acerl::parallel {
namespace {

constexpr int kActivationTag = 0;
constexpr int kGradientTag = 1;

// One stage's view of a training step: the micro-batches in flight and the pending sends.
class StageRunner {
 public:
  StageRunner(const ProcessGroups& groups, const PipelineStep& step)
      : pp_(groups.pp()),
        step_(step),
        stage_(groups.pp_rank()),
        stages_(groups.pp().size()),
        buffer_(torch::TensorOptions().dtype(step.activation_dtype).device(groups.device())) {}

  bool first() const { return stage_ == 0; }
  bool last() const { return stage_ == stages_ - 1; }

  void forward(int64_t micro) {
    torch::Tensor input;
    if (first()) {
      input = step_.first_input(micro);
    } else {
      input = torch::empty(step_.activation_shape(micro), buffer_);
      pp_.recv(input, stage_ - 1, kActivationTag);
      input.requires_grad_(true);
    }
    torch::Tensor output = step_.forward(micro, input);
    if (last()) {
      output = step_.loss(micro, output);
      loss_sum_ += output.detach().item<double>();
    } else {
      const std::vector<int64_t> shape = step_.activation_shape(micro);
      ACERL_CHECK(output.sizes().vec() == shape, "pipeline stage ", stage_,
                  " produced an activation of shape ", output.sizes(), ", expected ",
                  torch::IntArrayRef(shape));
      sends_.push_back(
          pp_.isend(output.detach().to(step_.activation_dtype), stage_ + 1, kActivationTag));
    }
    in_flight_.push_back({micro, input, output});
  }

  void backward() {
    ACERL_CHECK(!in_flight_.empty(), "1F1B: backward with no micro-batch in flight");
    Flight f = in_flight_.front();
    in_flight_.pop_front();
    if (step_.before_backward) step_.before_backward(f.micro);
    if (last()) {
      torch::autograd::backward({f.output});
    } else {
      torch::Tensor grad = torch::empty(step_.activation_shape(f.micro), buffer_);
      pp_.recv(grad, stage_ + 1, kGradientTag);
      torch::autograd::backward({f.output}, {grad.to(f.output.scalar_type())});
    }
    if (!first()) {
      ACERL_CHECK(f.input.grad().defined(), "pipeline stage ", stage_,
                  " input received no gradient");
      sends_.push_back(pp_.isend(f.input.grad(), stage_ - 1, kGradientTag));
    }
  }

  double finish() {
    for (auto& request : sends_) request->wait();
    sends_.clear();
    return loss_sum_;
  }

 private:
  struct Flight {
    int64_t micro;
    torch::Tensor input, output;
  };
  Communicator& pp_;
  const PipelineStep& step_;
  const int stage_, stages_;
  const torch::TensorOptions buffer_;  // received activations and gradients, on the job's device
  std::deque<Flight> in_flight_;
  std::vector<std::unique_ptr<CommRequest>> sends_;
  double loss_sum_ = 0;
};

}  // namespace

double run_1f1b(const ProcessGroups& groups, const PipelineStep& step) {
  StageRunner stage(groups, step);
  const int64_t m = step.n_micro;
  const int64_t warmup = std::min<int64_t>(groups.pp().size() - groups.pp_rank() - 1, m);
  int64_t next_forward = 0;

  // Warm-up: fill the pipeline; later stages start their backwards sooner.
  for (int64_t i = 0; i < warmup; ++i) stage.forward(next_forward++);

  // Steady state: one forward, one backward.
  for (int64_t i = 0; i < m - warmup; ++i) {
    stage.forward(next_forward++);
    stage.backward();
  }

  // Cool-down: the backwards of the warm-up forwards.
  for (int64_t i = 0; i < warmup; ++i) stage.backward();

  return stage.finish();
}

torch::Tensor pipeline_forward(const ProcessGroups& groups, const torch::Tensor& first_input,
                               const std::vector<int64_t>& activation_shape,
                               torch::ScalarType activation_dtype,
                               const std::function<torch::Tensor(const torch::Tensor&)>& forward) {
  Communicator& pp = groups.pp();
  const int stage = groups.pp_rank(), stages = pp.size();
  torch::Tensor input = first_input;
  if (stage > 0) {
    input = torch::empty(activation_shape,
                         torch::TensorOptions().dtype(activation_dtype).device(groups.device()));
    pp.recv(input, stage - 1, kActivationTag);
  }
  torch::Tensor output = forward(input);
  if (stage == stages - 1) return output;
  pp.send(output.to(activation_dtype), stage + 1, kActivationTag);
  return torch::Tensor();
}

}  // namespace acerl::parallel
