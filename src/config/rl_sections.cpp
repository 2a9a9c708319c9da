// Keys of the RL, stage, eval and tune sections; see rl_sections.h.
#include "config/rl_sections.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "runtime/error.h"

namespace acerl::config {

bool fixed_temperature(const std::string& text, const std::string& key, double* value) {
  if (text == "auto") return false;
  char* end = nullptr;
  double t = std::strtod(text.c_str(), &end);
  ACERL_USAGE_CHECK(end != text.c_str() && *end == '\0' && std::isfinite(t) && t >= 0, key, " = '",
                    clip_text(text), "': expected a finite temperature >= 0 or auto");
  *value = t;
  return true;
}

void describe_rl(Schema& s, RlConfig& c) {
  s.section("rl", "GRPO with verifiable rewards (defaults of every [stage.NAME])");
  s.add("prompts_per_step", &c.prompts_per_step,
        "prompts per step, over all data-parallel replicas")
      .min(1);
  s.add("group_size", &c.group_size, "rollouts per prompt (G)").min(1);
  s.add("temperature", &c.temperature,
        "sampling temperature, or auto (hold the entropy at target_entropy)")
      .check([&c] {
        double t = 0;
        try {
          fixed_temperature(c.temperature, "rl.temperature", &t);
        } catch (const UsageError& e) {
          return std::string("must be a finite number >= 0 or auto");
        }
        return std::string();
      });
  s.add("steps", &c.steps, "steps of the run when there are no [stage.*] sections; 0 = epochs")
      .min(0);
  s.add("epochs", &c.epochs, "passes over the prompts when steps = 0").min(1);
  s.add("lr", &c.lr, "learning rate (constant)").min(0);
  s.add("weight_decay", &c.weight_decay, "AdamW weight decay").min(0);
  s.add("beta1", &c.beta1, "AdamW beta1").range(0, 1);
  s.add("beta2", &c.beta2, "AdamW beta2").range(0, 1);
  s.add("eps", &c.eps, "AdamW epsilon").min(0, true);
  s.add("grad_clip", &c.grad_clip, "global gradient-norm clipping; 0 = none").min(0);
  s.add("micro_batch", &c.micro_batch, "packed rows per learner forward/backward").min(1);
  s.add("shared_prefix", &c.shared_prefix,
        "the learner computes a group's prompt once: one document of the prompt and a branch per "
        "rollout that attends to it and to itself (the same tokens and attention as one row per "
        "rollout, with fewer tokens); false = one prompt + response document per rollout");
  s.add("updates_per_batch", &c.updates_per_batch,
        "optimizer updates per generated batch; 1 = strictly on-policy (ratio 1), > 1 enables PPO "
        "clipping")
      .min(1);
  s.add("max_lag", &c.max_lag,
        "split layout (parallel.rollout_ranks > 0): step s generates with the weights after "
        "update max(start, s - 1 - max_lag), so generation runs up to max_lag steps ahead of "
        "learning; the loss then takes the rollout's log-probs as the old policy (PPO clipping "
        "against the behaviour policy, or see is_correction). 0 = the weights of the previous "
        "update (on-policy)")
      .min(0);
  s.add("is_correction", &c.is_correction,
        "the loss of rollouts generated with older weights (rl.max_lag > 0): clip = PPO clipping "
        "of the ratio to the rollout's (behaviour) log-probs; truncated = the on-policy gradient "
        "times the truncated importance weight min(pi / mu, is_cap)")
      .choices({"clip", "truncated"});
  s.add("is_cap", &c.is_cap, "rl.is_correction = truncated: the importance-weight cap").min(0, true);
  s.add("weight_sync_dtype", &c.weight_sync_dtype,
        "split layout: the weights' precision from learner to rollout rank: fp32 (exact: the "
        "rollout ranks generate with the learner's weights bit for bit) or bf16 (half the bytes; "
        "the rollout ranks generate with bf16-rounded weights)")
      .choices({"fp32", "bf16"});
  s.add("weight_bucket_mb", &c.weight_bucket_mb,
        "split layout: the weights message travels in pieces of this many MiB")
      .min(0, true);
  s.add("clip_eps_low", &c.clip_eps_low, "PPO ratio clip below 1 (used when updates_per_batch > 1)")
      .min(0);
  s.add("clip_eps_high", &c.clip_eps_high,
        "PPO ratio clip above 1 (used when updates_per_batch > 1)")
      .min(0);
  s.add("kl_coef", &c.kl_coef, "weight of the k3 KL to the frozen starting policy; 0 = none")
      .min(0);
  s.add("entropy_coef", &c.entropy_coef, "entropy bonus weight; 0 = none").min(0);
  s.add("adv_eps", &c.adv_eps, "epsilon of (r - mean) / (std + eps)").min(0);
  s.add("overlong_filter", &c.overlong_filter,
        "mask responses cut at the length budget out of the loss");
  s.add("drop_zero_variance_groups", &c.drop_zero_variance_groups,
        "dynamic sampling: drop groups whose rewards are all equal and draw more prompts");
  s.add("max_refill_rounds", &c.max_refill_rounds, "extra draws per step for dynamic sampling")
      .min(0);
  s.add("easy_filter", &c.easy_filter,
        "skip prompts that every rollout solved in an earlier epoch");
  s.add("pass_rate_file", &c.pass_rate_file,
        "JSONL {id, pass_rate}: keep prompts within [pass_rate_min, max]");
  s.add("pass_rate_min", &c.pass_rate_min, "difficulty pre-filter: lowest pass rate kept")
      .range(0, 1);
  s.add("pass_rate_max", &c.pass_rate_max, "difficulty pre-filter: highest pass rate kept")
      .range(0, 1);
  s.add("target_entropy", &c.target_entropy,
        "temperature-adjusted entropy that temperature = auto holds")
      .min(0);
  s.add("temperature_min", &c.temperature_min, "lowest temperature auto may choose").min(0, true);
  s.add("temperature_max", &c.temperature_max, "highest temperature auto may choose")
      .min(0, true)
      .check([&c] {
        return c.temperature_min <= c.temperature_max
                   ? std::string()
                   : str("must be >= rl.temperature_min (", c.temperature_min, ")");
      });
  s.add("temperature_max_step", &c.temperature_max_step,
        "largest change of temperature per step (auto)")
      .min(0);
  s.add("entropy_grid", &c.entropy_grid, "temperatures of the per-step entropy curve H(T)")
      .check([&c] {
        if (c.entropy_grid.values.size() < 2) return std::string("needs at least two temperatures");
        for (size_t i = 0; i < c.entropy_grid.values.size(); ++i)
          if (c.entropy_grid.values[i] <= 0 ||
              (i && c.entropy_grid.values[i] <= c.entropy_grid.values[i - 1]))
            return std::string("must be positive and increasing");
        return std::string();
      });
  s.add("trace_rollouts", &c.trace_rollouts,
        "also trace one row per rollout (prompt, sample, reward, length, entropy)");
  s.add("stop_after_stage", &c.stop_after_stage,
        "end the job (exit 0, checkpoint written) after this [stage.NAME]; empty = run all "
        "stages; a later job with --resume continues with the next stage");
}

void describe_stage(Schema& s, StageConfig& c) {
  s.add("data", &c.data, "prompt JSONL of this stage ({id, type, prompt, answer | tests})")
      .required();
  s.add("max_response_length", &c.max_response_length,
        "length budget of responses; 0 = rollout.max_new_tokens")
      .min(0);
  s.add("steps", &c.steps, "steps of the stage; 0 = run `epochs` over its prompts").min(0);
  s.add("epochs", &c.epochs, "passes over the stage's prompts when steps = 0").min(1);
  s.add("group_size", &c.group_size, "rollouts per prompt; 0 = rl.group_size").min(0);
  s.add("prompts_per_step", &c.prompts_per_step, "prompts per step; 0 = rl.prompts_per_step")
      .min(0);
  s.add("temperature", &c.temperature, "a number or auto; empty = rl.temperature");
  s.add("overlong_filter", &c.overlong_filter,
        "mask truncated responses out of the loss (helps at 8K/16K)");
  s.add("easy_filter", &c.easy_filter,
        "drop prompts every rollout solved in an earlier epoch (code stages)");
  s.add("lr", &c.lr, "learning rate; 0 = rl.lr").min(0);
}

std::vector<StageConfig> parse_stages(const std::vector<ConfigEntry>& entries, const RlConfig& rl,
                                      std::string* resolved) {
  // The curriculum order is the order of the [stage.NAME] sections in the file; a command-line
  // override (listed first, so that it wins) must not move its stage to the front. Stages named
  // only on the command line follow the file's, in command-line order.
  std::vector<const ConfigEntry*> ordered;
  for (const auto& e : entries)
    if (e.origin != "command line") ordered.push_back(&e);
  // (The loader lists the command line last-first, so that the last occurrence wins.)
  for (auto e = entries.rbegin(); e != entries.rend(); ++e)
    if (e->origin == "command line") ordered.push_back(&*e);
  std::vector<std::string> names;
  for (const ConfigEntry* entry : ordered) {
    const ConfigEntry& e = *entry;
    const std::string rest = e.key.substr(std::string("stage.").size());
    const auto dot = rest.rfind('.');
    ACERL_USAGE_CHECK(dot != std::string::npos, e.origin, ": '", e.key,
                      "' is not a stage key (use [stage.NAME])");
    const std::string name = rest.substr(0, dot);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::vector<StageConfig> stages;
  for (const auto& name : names) {
    StageConfig c;
    c.name = name;
    c.overlong_filter = rl.overlong_filter;
    c.easy_filter = rl.easy_filter;
    Schema schema;
    schema.section("stage." + name, "an RL stage");
    describe_stage(schema, c);
    std::vector<ConfigEntry> mine;
    for (const auto& e : entries)
      if (e.key.rfind("stage." + name + ".", 0) == 0 &&
          e.key.substr(("stage." + name + ".").size()).find('.') == std::string::npos)
        mine.push_back(e);
    schema.load(mine);
    if (!c.temperature.empty()) {
      double t = 0;
      fixed_temperature(c.temperature, "stage." + name + ".temperature", &t);
    }
    if (resolved) *resolved += schema.resolved();
    stages.push_back(c);
  }
  return stages;
}

void describe_eval(Schema& s, EvalConfig& c) {
  s.section("eval", "acerl eval: avg@k and pass@k on benchmark JSONL files");
  s.add("files", &c.files,
        "comma-separated benchmark JSONL files ({id, type, prompt, answer | tests})");
  s.add("k", &c.k, "samples per problem (pass@1 is reported as avg@k)").min(1);
  s.add("temperature", &c.temperature, "sampling temperature").min(0);
  s.add("top_p", &c.top_p, "nucleus sampling").range(0, 1);
  s.add("max_new_tokens", &c.max_new_tokens, "longest response").min(1);
  s.add("report", &c.report, "JSON report; empty = <run.dir>/eval.json");
}

void describe_tune(Schema& s, TuneConfig& c) {
  s.section("tune", "acerl tune-temperature: measure H(T) on a prompt set (data.path)");
  s.add("prompts", &c.prompts, "prompts sampled from data.path").min(1);
  s.add("samples", &c.samples, "completions per prompt").min(1);
  s.add("temperature", &c.temperature, "sampling temperature of the measurement").min(0, true);
}

}  // namespace acerl::config
