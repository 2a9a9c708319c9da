// Keys of the training sections; see training_sections.h.
#include "config/training_sections.h"

#include "runtime/error.h"

namespace acerl::config {

void describe_model(Schema& s, ModelConfig& c) {
  s.section("model", "the model: where it starts from and how it computes");
  s.add("path", &c.path,
        "checkpoint to start from: an HF directory (config.json + *.safetensors) or an acerl .h5");
  s.add("init", &c.init,
        "config.json of a model to initialise randomly (used only when model.path is empty)");
  s.add("precision", &c.precision,
        "compute precision: bf16 (autocast, fp32 master weights), fp32, or auto (bf16 where every "
        "rank's CPU multiplies bf16 natively, else fp32)")
      .choices({"auto", "bf16", "fp32"});
  s.add("layers_per_stage", &c.layers_per_stage,
        "pipeline partition: comma-separated layer counts per stage; empty = balanced");
  s.add("activation_checkpointing", &c.activation_checkpointing,
        "recompute each layer's activations in backward instead of keeping them (less memory)");
}

void describe_data(Schema& s, DataConfig& c) {
  s.section("data", "training data (JSONL)");
  s.add("path", &c.path, "JSONL records: {\"prompt\", \"response\"} or {\"messages\": [...]}");
  s.add("eval_path", &c.eval_path,
        "held-out JSONL of the same form, for the evaluation loss (optional)");
  s.add("skip_bad_lines", &c.skip_bad_lines,
        "skip and count malformed lines instead of stopping at the first");
}

void describe_sft(Schema& s, SftConfig& c) {
  s.section("sft", "supervised fine-tuning");
  s.add("seq_len", &c.seq_len, "tokens per packed row; longer examples are cut").range(16, 1 << 20);
  s.add("global_batch", &c.global_batch,
        "packed rows per optimizer step, over all data-parallel ranks")
      .min(1);
  s.add("micro_batch", &c.micro_batch,
        "rows per forward/backward on one rank (gradient accumulation)")
      .min(1);
  s.add("epochs", &c.epochs, "passes over the data").min(1);
  s.add("max_steps", &c.max_steps, "stop after this many optimizer steps; 0 = run the epochs")
      .min(0);
  s.add("lr", &c.lr, "peak learning rate").min(0);
  s.add("min_lr", &c.min_lr, "learning rate at the end of the cosine decay").min(0);
  s.add("warmup_steps", &c.warmup_steps, "steps of linear warm-up from 0 to lr").min(0);
  s.add("weight_decay", &c.weight_decay, "AdamW decoupled weight decay (not on biases and norms)")
      .min(0);
  s.add("beta1", &c.beta1, "AdamW beta1").range(0, 1);
  s.add("beta2", &c.beta2, "AdamW beta2").range(0, 1);
  s.add("eps", &c.eps, "AdamW epsilon").min(0, true);
  s.add("grad_clip", &c.grad_clip, "clip the global gradient norm to this; 0 = no clipping").min(0);
  s.add("max_prompts", &c.max_prompts,
        "use at most this many distinct prompts (scaling study); 0 = all")
      .min(0);
  s.add("responses_per_prompt", &c.responses_per_prompt,
        "keep at most this many responses of each prompt (scaling study); 0 = all")
      .min(0);
  s.add("eval_interval", &c.eval_interval,
        "steps between held-out evaluations; 0 = at the end of each epoch")
      .min(0);
}

void describe_train(Schema& s, TrainConfig& c) {
  s.section("train", "safeguards of every training loop (sft and rl)");
  s.add("max_bad_steps", &c.max_bad_steps,
        "a step whose loss or gradient norm is not finite on any rank is skipped (no optimizer "
        "update, counted in the trace); this many in a row fail the job with exit 1")
      .min(1);
}

void describe_checkpoint(Schema& s, CheckpointConfig& c) {
  s.section("checkpoint", "HDF5 checkpoints (model, optimizer, data cursor; layout independent)");
  s.add("dir", &c.dir, "checkpoint directory; empty = <run.dir>/checkpoints");
  s.add("interval", &c.interval,
        "steps between checkpoints; 0 = only at the end and on SIGTERM/SIGUSR1")
      .min(0);
  s.add("keep", &c.keep,
        "complete checkpoints kept (the newest written and the one `latest` names always are); "
        "older ones are deleted")
      .min(1);
  s.add("resume", &c.resume,
        "never, auto (the checkpoint `latest` names in dir) or a checkpoint file; resuming from "
        "an older checkpoint moves the newer ones to dir/superseded/");
}

void describe_trace(Schema& s, TraceConfig& c) {
  s.section("trace", "the HDF5 trace of per-step metrics");
  s.add("path", &c.path, "trace file; empty = <run.dir>/trace.h5");
  s.add("peak_gflops", &c.peak_gflops,
        "matmul GFLOP/s per rank in the compute precision, for the MFU; 0 = measure at start")
      .min(0);
}

}  // namespace acerl::config
