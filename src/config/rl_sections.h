// defines: the config sections of RL and evaluation: [rl] (GRPO and the temperature rule),
// [stage.NAME] (the recipe's stages, run in the order they appear; each inherits [rl]),
// [eval] (avg@k / pass@k benchmarks) and [tune] (acerl tune-temperature).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/ini.h"
#include "config/schema.h"

namespace acerl::config {

struct RlConfig {
  int64_t prompts_per_step = 16;
  int64_t group_size = 8;
  std::string temperature = "1.0";  // a number, or "auto" (hold the entropy at target_entropy)
  int64_t steps = 0;                // steps of the implicit stage (no [stage.*]); 0 = epochs
  int64_t epochs = 1;
  double lr = 1e-6;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 1.0;
  int64_t micro_batch = 4;
  bool shared_prefix = true;  // a group's prompt computed once in the learner
  int64_t updates_per_batch = 1;
  int64_t max_lag = 0;  // split layout: a step's rollouts may use weights this many updates old
  std::string is_correction = "clip";  // clip | truncated: the loss of rollouts from older weights
  double is_cap = 2.0;                 // truncated: the importance-weight cap
  std::string weight_sync_dtype = "fp32";  // split layout: fp32 (exact) | bf16 (half the bytes)
  double weight_bucket_mb = 64;            // split layout: the weights travel in such pieces
  double clip_eps_low = 0.2, clip_eps_high = 0.2;
  double kl_coef = 0.0;
  double entropy_coef = 0.0;
  double adv_eps = 1e-6;
  bool overlong_filter = true;
  bool drop_zero_variance_groups = false;
  int64_t max_refill_rounds = 2;
  bool easy_filter = false;
  std::string pass_rate_file;
  double pass_rate_min = 0.0, pass_rate_max = 1.0;
  double target_entropy = 0.3;
  double temperature_min = 0.3, temperature_max = 1.5, temperature_max_step = 0.05;
  DoubleList entropy_grid{{0.4, 0.6, 0.8, 1.0, 1.2, 1.4}};
  bool trace_rollouts = false;
  // "" = run every stage; else end the job (exit 0, checkpoint written) once this stage is done:
  // a batch chain then runs one job per stage in the same run.dir.
  std::string stop_after_stage;
};

struct StageConfig {
  std::string name;
  std::string data;
  int64_t max_response_length = 0;  // 0: rollout.max_new_tokens
  int64_t steps = 0;
  int64_t epochs = 1;
  int64_t group_size = 0;        // 0: rl.group_size
  int64_t prompts_per_step = 0;  // 0: rl.prompts_per_step
  std::string temperature;       // "": rl.temperature
  bool overlong_filter = true;
  bool easy_filter = false;
  double lr = 0;  // 0: rl.lr
};

struct EvalConfig {
  std::string files;  // comma-separated benchmark JSONL files
  int64_t k = 4;
  double temperature = 0.6;
  double top_p = 0.95;
  int64_t max_new_tokens = 1024;
  std::string report;  // "" = <run.dir>/eval.json
};

struct TuneConfig {
  int64_t prompts = 64;
  int64_t samples = 4;
  double temperature =
      1.0;  // where the curve is measured (H(T') for other T' comes from the same logits)
};

void describe_rl(Schema& schema, RlConfig& c);
void describe_eval(Schema& schema, EvalConfig& c);
void describe_tune(Schema& schema, TuneConfig& c);
// Parses the [stage.NAME] entries (in order of first appearance), each key defaulting to [rl].
std::vector<StageConfig> parse_stages(const std::vector<ConfigEntry>& entries, const RlConfig& rl,
                                      std::string* resolved);
// Keys of a stage section, for --help.
void describe_stage(Schema& schema, StageConfig& c);
// "auto" -> nullopt-like (returns false); a number -> true with *value. UsageError otherwise.
bool fixed_temperature(const std::string& text, const std::string& key, double* value);

}  // namespace acerl::config
