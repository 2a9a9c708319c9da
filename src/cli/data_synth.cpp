// `acerl data synth`; see data_synth.h.
#include "cli/data_synth.h"

#include "data/synthetic_task.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace po = boost::program_options;

namespace acerl::cli {

void add_synth_flags(po::options_description& flags) {
  flags.add_options()("sft-prompts", po::value<int64_t>()->default_value(600),
                      "synth: prompts with worked solutions")(
      "rl-prompts", po::value<int64_t>()->default_value(1500), "synth: RL prompts")(
      "eval-prompts", po::value<int64_t>()->default_value(300), "synth: held-out prompts")(
      "solutions", po::value<int64_t>()->default_value(2),
      "synth: distinct worked solutions per SFT prompt (1-2; 1-4 with --digits 2)")(
      "digits", po::value<int>()->default_value(1),
      "synth: operand digits of the math problems (1: the quickstart's task; 2: multi-step)")(
      "code-fraction", po::value<double>()->default_value(0.2), "synth: share of code problems")(
      "slip-rate", po::value<double>()->default_value(0.3),
      "synth: SFT solutions with a wrong boxed answer");
}

int run_synth(MpiRuntime& runtime, Invocation& inv) {
  ACERL_USAGE_CHECK(inv.flags.count("output"), "acerl data synth: --output DIR is required");
  if (runtime.rank() != 0) return 0;
  data::SynthOptions o;
  o.seed = static_cast<uint64_t>(inv.config.run.seed);
  o.sft_prompts = inv.flags["sft-prompts"].as<int64_t>();
  o.rl_prompts = inv.flags["rl-prompts"].as<int64_t>();
  o.eval_prompts = inv.flags["eval-prompts"].as<int64_t>();
  o.solutions_per_prompt = inv.flags["solutions"].as<int64_t>();
  o.code_fraction = inv.flags["code-fraction"].as<double>();
  o.slip_rate = inv.flags["slip-rate"].as<double>();
  o.digits = inv.flags["digits"].as<int>();
  ACERL_USAGE_CHECK(o.digits == 1 || o.digits == 2, "--digits must be 1 or 2, not ", o.digits);
  const int64_t max_solutions = o.digits == 1 ? 2 : 4;
  ACERL_USAGE_CHECK(o.solutions_per_prompt >= 1 && o.solutions_per_prompt <= max_solutions,
                    "--solutions must be 1..", max_solutions, " with --digits ", o.digits, ", not ",
                    o.solutions_per_prompt);
  ACERL_USAGE_CHECK(o.slip_rate >= 0 && o.slip_rate <= 1, "--slip-rate must be in [0, 1]");
  ACERL_USAGE_CHECK(o.code_fraction >= 0 && o.code_fraction <= 1,
                    "--code-fraction must be in [0, 1]");
  const std::string dir = inv.flags["output"].as<std::string>();
  data::SynthCounts n = data::write_synthetic_task(dir, o);
  log0(str("wrote ", dir, ": sft.jsonl (", n.sft, " examples), rl.jsonl (", n.rl,
           " prompts), eval.jsonl (", n.eval, " held-out prompts), corpus.txt (seed ", o.seed,
           ")"));
  return 0;
}

}  // namespace acerl::cli
