// The table of `acerl` subcommands: name, help text, config sections and entry point.
// A command whose issue has not landed has no `run` and says what brings it.
#include "cli/command.h"

namespace acerl::cli {
namespace {

void describe_common(config::Schema& s, config::Config& c) {
  config::describe_run(s, c.run);
  config::describe_parallel(s, c.parallel);
  config::describe_log(s, c.log);
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = [] {
    std::vector<Command> t;
    t.push_back({"sft", "supervised fine-tuning on prompt/response JSONL",
                 "[CONFIG.ini] [--section.key=value ...]", "", nullptr, describe_common, nullptr,
                 "the SFT trainer issue"});
    t.push_back({"rl", "GRPO reinforcement learning with verifiable rewards",
                 "[CONFIG.ini] [--section.key=value ...]", "", nullptr, describe_common, nullptr,
                 "the GRPO issue"});
    t.push_back({"eval", "avg@k / pass@k evaluation on benchmark JSONL",
                 "[CONFIG.ini] [--section.key=value ...]", "", nullptr, describe_common, nullptr,
                 "the GRPO issue"});
    t.push_back({"generate", "sample completions for a JSONL of prompts",
                 "[CONFIG.ini] [--section.key=value ...]", "", nullptr, describe_common, nullptr,
                 "the rollout issue"});
    t.push_back({"convert", "convert between HF safetensors and acerl HDF5 checkpoints",
                 "[options]", "", nullptr, nullptr, nullptr, "the model issue"});
    t.push_back({"trace", "summarise an acerl HDF5 trace", "TRACE.h5", "", nullptr, nullptr,
                 nullptr, "the SFT trainer issue"});
    t.push_back({"tune-temperature", "find the sampling temperature that hits a target entropy",
                 "[CONFIG.ini] [--section.key=value ...]", "", nullptr, describe_common, nullptr,
                 "the GRPO issue"});
    t.push_back({"data", "data tools: tokenize, score, synth", "ACTION [options]", "", nullptr,
                 nullptr, nullptr, "the model and rewards issues"});
    return t;
  }();
  return table;
}

}  // namespace acerl::cli
