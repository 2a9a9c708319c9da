// defines: checkpointed_layer, activation checkpointing of one decoder layer: the forward keeps
// only the layer's input; the backward runs the layer's forward again (same autocast state,
// same collectives in the same order on every TP rank) and backpropagates through it. Trades
// one extra forward per layer for the activations of every layer.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "model/attention.h"

namespace acerl::model {

class DecoderLayerImpl;

// `inputs` must stay alive until the backward pass has run (the model keeps them; see
// Qwen2ForCausalLMImpl::release_checkpointed_inputs).
torch::Tensor checkpointed_layer(DecoderLayerImpl& layer, const torch::Tensor& x,
                                 const std::shared_ptr<const AttentionInputs>& inputs);

}  // namespace acerl::model
