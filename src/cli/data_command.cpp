// `acerl data ACTION`: dispatch to the data tools; see data_command.h.
#include "cli/data_command.h"

#include "cli/data_score.h"
#include "cli/data_synth.h"
#include "cli/data_tokenize.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace po = boost::program_options;

namespace acerl::cli {

const std::vector<DataAction>& data_actions() {
  static const std::vector<DataAction> actions = {
      {"tokenize", "text -> token ids (or ids -> text with --decode), as JSON",
       "--tokenizer FILE [--lines] [--decode]", add_tokenize_flags, run_tokenize, ""},
      {"score", "add reward `score` and `reason` to JSONL records {type, response, answer|tests}",
       "--input FILE [--output FILE] [--reward.code.workers=N ...]", nullptr, run_score, ""},
      {"synth", "write the synthetic task (sft/rl/eval JSONL; --run.seed=N; inputs/README.md)",
       "--output DIR [--sft-prompts N --rl-prompts N --eval-prompts N --digits 1|2 --solutions N]",
       add_synth_flags, run_synth, ""},
  };
  return actions;
}

void add_data_flags(po::options_description& flags) {
  flags.add_options()("input,i", po::value<std::string>(),
                      "input file (tokenize: default standard input; score: required)")(
      "output,o", po::value<std::string>(), "output file or directory (default: standard output)");
  for (const auto& action : data_actions())
    if (action.add_flags) action.add_flags(flags);
}

std::string data_details() {
  std::string out = "actions:\n";
  for (const auto& a : data_actions()) {
    std::string head = "  " + a.name + " " + a.usage;
    out += head + "\n      " + a.summary + (a.run ? "" : "  (not implemented yet)") + "\n";
  }
  return out;
}

int run_data(MpiRuntime& runtime, Invocation& invocation) {
  ACERL_USAGE_CHECK(!invocation.positional.empty(), "acerl data: name an action (",
                    "tokenize, score, synth); see acerl data --help");
  const std::string& name = invocation.positional.front();
  for (const auto& action : data_actions()) {
    if (action.name != name) continue;
    if (!action.run) {
      log0(str("acerl data ", name, ": not implemented yet (", action.pending, ")"));
      return 2;
    }
    return action.run(runtime, invocation);
  }
  throw UsageError(str("acerl data: unknown action '", name, "' (tokenize, score, synth)"));
}

}  // namespace acerl::cli
