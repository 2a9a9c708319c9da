// Layer-wise activation checkpointing; see activation_checkpoint.h.
#include "model/activation_checkpoint.h"

#include <ATen/autocast_mode.h>

#include "model/precision.h"
#include "model/qwen2.h"

namespace acerl::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// Layer and inputs travel as integers (IValues hold no raw pointers); both outlive the graph.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x, int64_t layer,
                               int64_t inputs) {
    ctx->save_for_backward({x});
    ctx->saved_data["layer"] = layer;
    ctx->saved_data["inputs"] = inputs;
    ctx->saved_data["bf16"] = at::autocast::is_autocast_enabled(x.device().type());
    torch::NoGradGuard no_grad;
    return reinterpret_cast<DecoderLayerImpl*>(layer)->forward(
        x, *reinterpret_cast<const AttentionInputs*>(inputs));
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    torch::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    auto* inputs = reinterpret_cast<const AttentionInputs*>(ctx->saved_data["inputs"].toInt());
    torch::Tensor y;
    {
      torch::AutoGradMode enable(true);
      AutocastScope autocast(ctx->saved_data["bf16"].toBool() ? Precision::bf16 : Precision::fp32,
                             x.device().type());
      y = layer->forward(x, *inputs);
    }
    torch::autograd::backward({y}, {grads[0]});
    return {x.grad(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& x,
                                 const std::shared_ptr<const AttentionInputs>& inputs) {
  return CheckpointedLayer::apply(x, reinterpret_cast<int64_t>(&layer),
                                  reinterpret_cast<int64_t>(inputs.get()));
}

}  // namespace acerl::model
