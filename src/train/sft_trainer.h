// defines: run_sft, stage one of the recipe: supervised fine-tuning on prompt/response JSONL at
// any parallel layout. Data is tokenized through the chat template (loss on response tokens),
// packed into rows of sft.seq_len, shuffled per epoch from the seed and sharded over data
// ranks; AdamW with warm-up + cosine, global-norm clipping, gradient accumulation to
// sft.global_batch rows; HDF5 checkpoints and trace; resume and stop signals.
#pragma once

#include "config/config.h"
#include "runtime/mpi_runtime.h"

namespace acerl::train {

// `resume`: continue from the latest checkpoint (the --resume flag; checkpoint.resume too).
int run_sft(MpiRuntime& runtime, const config::Config& config, const std::string& resolved_config,
            bool resume);

}  // namespace acerl::train
