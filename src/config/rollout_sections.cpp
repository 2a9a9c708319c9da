// Keys of the sampling sections; see rollout_sections.h.
#include "config/rollout_sections.h"

namespace acerl::config {

void describe_rollout(Schema& s, RolloutConfig& c) {
  s.section("rollout", "sampling of completions (generate, rl, eval)");
  s.add("n", &c.n, "completions per prompt").min(1);
  s.add("temperature", &c.temperature, "sampling temperature; 0 = greedy").min(0);
  s.add("top_p", &c.top_p, "nucleus sampling: keep the most likely tokens up to this mass; 1 = off")
      .range(0, 1)
      .check([&c] { return c.top_p > 0 ? std::string() : std::string("must be > 0"); });
  s.add("top_k", &c.top_k, "keep only the k most likely tokens; 0 = off").min(0);
  s.add("max_new_tokens", &c.max_new_tokens, "longest completion; longer ones are cut (truncated)")
      .min(1);
  s.add("stop", &c.stop,
        "comma-separated stop tokens (token strings or ids); the stop token ends the completion");
  s.add("max_batch", &c.max_batch, "sequences decoded together per data-parallel replica").min(1);
  s.add("decode", &c.decode,
        "how decode steps hold the batch: compact (finished sequences leave it every step), "
        "slots (fixed slots, steps of power-of-two buckets, no read-back inside a step) or "
        "graphs (slots with each bucket's step replayed as a CUDA graph: a CUDA model with "
        "tp = pp = 1 and top_p = 1; elsewhere it runs as slots); all give the same tokens")
      .choices({"compact", "slots", "graphs"});
  s.add("shared_prefill", &c.shared_prefill,
        "the samples of one prompt that join the batch together share one prefill (its cache "
        "row and last logits are copied to each; their first tokens are still sampled apart): "
        "prefill costs 1/n; false = every sample prefills its own copy of the prompt");
  s.add("entropy_temperatures", &c.entropy_temperatures,
        "extra temperatures at which every generated token's entropy is also measured (the H(T) "
        "curve)")
      .check([&c] {
        for (double t : c.entropy_temperatures.values)
          if (t <= 0) return std::string("every temperature must be > 0");
        return std::string();
      });
}

void describe_generate(Schema& s, GenerateConfig& c) {
  s.section("generate", "acerl generate: prompts from data.path, completions to JSONL");
  s.add("output", &c.output, "completions JSONL; empty = <run.dir>/completions.jsonl");
  s.add("chat", &c.chat,
        "wrap each prompt in the chat template (system turn, instruction, <think>)");
}

}  // namespace acerl::config
