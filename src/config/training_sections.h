// defines: the config sections of training jobs: [model] (what to start from and how to
// compute), [data] (the JSONL input), [sft], [train] (shared by sft and rl), [checkpoint] and
// [trace]; each with its describe_<section> that registers the keys, docs and constraints.
#pragma once

#include <cstdint>
#include <string>

#include "config/schema.h"

namespace acerl::config {

struct ModelConfig {
  std::string path;  // HF checkpoint directory (config.json + safetensors)
  std::string init;  // config.json of a model to initialise randomly when path is empty
  std::string precision = "auto";
  std::string layers_per_stage;  // "" = balanced; else comma-separated layer counts per stage
  bool activation_checkpointing = false;
};

struct DataConfig {
  std::string path;
  std::string eval_path;  // held-out records for the evaluation loss (optional)
  bool skip_bad_lines = false;
};

struct SftConfig {
  int64_t seq_len = 2048;
  int64_t global_batch = 32;  // packed rows of seq_len tokens per optimizer step
  int64_t micro_batch = 1;    // rows per forward/backward (per rank)
  int64_t epochs = 1;
  int64_t max_steps = 0;  // 0: run the epochs
  double lr = 1e-5;
  double min_lr = 0;
  int64_t warmup_steps = 0;
  double weight_decay = 0.0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double grad_clip = 1.0;
  int64_t max_prompts = 0;           // 0: every prompt
  int64_t responses_per_prompt = 0;  // 0: every response
  int64_t eval_interval = 0;  // steps between held-out evaluations; 0: end of each epoch only
};

// What both trainers do with a step whose loss or gradient norm is not finite.
struct TrainConfig {
  int64_t max_bad_steps = 3;  // consecutive skipped (non-finite) steps before the job fails
};

struct CheckpointConfig {
  std::string dir;         // "" = <run.dir>/checkpoints
  int64_t interval = 100;  // steps between checkpoints; 0: only at the end (and on signals)
  int64_t keep = 3;
  std::string resume =
      "never";  // never | auto (the latest complete checkpoint) | a checkpoint path
};

struct TraceConfig {
  std::string path;        // "" = <run.dir>/trace.h5
  double peak_gflops = 0;  // per rank, for the MFU estimate; 0 = measure at start
};

void describe_model(Schema& schema, ModelConfig& c);
void describe_data(Schema& schema, DataConfig& c);
void describe_sft(Schema& schema, SftConfig& c);
void describe_train(Schema& schema, TrainConfig& c);
void describe_checkpoint(Schema& schema, CheckpointConfig& c);
void describe_trace(Schema& schema, TraceConfig& c);

}  // namespace acerl::config
