// The table of `acerl` subcommands: name, help text, config sections and entry point.
// A command whose issue has not landed has no `run` and says what brings it.
#include "cli/command.h"
#include "cli/convert_command.h"
#include "cli/data_command.h"
#include "cli/generate_command.h"
#include "cli/trace_command.h"
#include "cli/tune_command.h"
#include "eval/evaluator.h"
#include "train/rl_trainer.h"
#include "train/sft_trainer.h"

namespace acerl::cli {
namespace {

void describe_common(config::Schema& s, config::Config& c) {
  config::describe_run(s, c.run);
  config::describe_parallel(s, c.parallel);
  config::describe_log(s, c.log);
}

// Everything a training job reads: the common sections, the model and its data.
void describe_training(config::Schema& s, config::Config& c) {
  describe_common(s, c);
  config::describe_model(s, c.model);
  config::describe_tokenizer(s, c.tokenizer);
  config::describe_chat(s, c.chat);
  config::describe_data(s, c.data);
}

void describe_sft_job(config::Schema& s, config::Config& c) {
  describe_training(s, c);
  config::describe_sft(s, c.sft);
  config::describe_train(s, c.train);
  config::describe_checkpoint(s, c.checkpoint);
  config::describe_trace(s, c.trace);
}

// The keys of a [stage.NAME] section, for `acerl rl --help`.
std::string stage_help() {
  config::Schema schema;
  config::StageConfig stage;
  schema.section("stage.NAME",
                 "one RL stage; stages run in the order they appear; unset keys inherit [rl]");
  config::describe_stage(schema, stage);
  return "Prompts: JSONL {id, type: math|code, prompt, answer | tests}. Stages:" + schema.help();
}

Command job(const std::string& name, const std::string& summary, const std::string& pending) {
  Command c;
  c.name = name;
  c.summary = summary;
  c.usage = "[CONFIG.ini] [--section.key=value ...]";
  c.describe_config = describe_common;
  c.pending = pending;
  c.log_config = true;
  return c;
}

}  // namespace

void describe_all_sections(config::Schema& s, config::Config& c) {
  describe_sft_job(s, c);
  config::describe_rollout(s, c.rollout);
  config::describe_generate(s, c.generate);
  config::describe_math_reward(s, c.math_reward);
  config::describe_code_reward(s, c.code_reward);
  config::describe_rl(s, c.rl);
  config::describe_eval(s, c.eval);
  config::describe_tune(s, c.tune);
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = [] {
    std::vector<Command> t;
    Command sft = job("sft", "supervised fine-tuning on prompt/response JSONL", "");
    sft.describe_config = describe_sft_job;
    sft.add_flags = [](boost::program_options::options_description& flags) {
      flags.add_options()(
          "resume", "continue from the latest complete checkpoint (as checkpoint.resume = auto)");
    };
    sft.details =
        "Data: JSONL records {\"prompt\", \"response\"[, \"type\": math|code][, \"id\"]} or "
        "{\"messages\": [...]}.\n"
        "SIGTERM or SIGUSR1 (Slurm: --signal=USR1@120), or the next step not fitting before "
        "run.deadline, writes a checkpoint at the step boundary and exits 75; --resume continues.\n"
        "Exit codes: 0 finished, 2 bad input, 1 failure, 75 stopped with a checkpoint written.";
    sft.run = [](MpiRuntime& runtime, Invocation& inv) {
      return train::run_sft(runtime, inv.config, inv.resolved_config,
                            inv.flags.count("resume") > 0);
    };
    t.push_back(sft);
    Command rl = job("rl", "GRPO reinforcement learning with verifiable rewards", "");
    rl.describe_config = [](config::Schema& s, config::Config& c) {
      describe_sft_job(s, c);
      config::describe_rollout(s, c.rollout);
      config::describe_rl(s, c.rl);
      config::describe_math_reward(s, c.math_reward);
      config::describe_code_reward(s, c.code_reward);
    };
    rl.add_flags = [](boost::program_options::options_description& flags) {
      flags.add_options()(
          "resume", "continue from the latest complete checkpoint (as checkpoint.resume = auto)");
    };
    rl.details = stage_help() +
                 "\nSIGTERM or SIGUSR1, or the next step not fitting before run.deadline, writes a "
                 "checkpoint and exits 75; --resume continues (also across stage boundaries).\n"
                 "Exit codes: 0 finished, 2 bad input, 1 failure, 75 stopped with a checkpoint "
                 "written.";
    rl.run = [](MpiRuntime& runtime, Invocation& inv) {
      return train::run_rl(runtime, inv.config, inv.resolved_config, inv.flags.count("resume") > 0);
    };
    t.push_back(rl);
    Command ev = job("eval", "avg@k / pass@k evaluation on benchmark JSONL", "");
    ev.describe_config = [](config::Schema& s, config::Config& c) {
      describe_training(s, c);
      config::describe_eval(s, c.eval);
      config::describe_trace(s, c.trace);
      config::describe_math_reward(s, c.math_reward);
      config::describe_code_reward(s, c.code_reward);
    };
    ev.run = [](MpiRuntime& runtime, Invocation& inv) {
      return eval::run_eval(runtime, inv.config, inv.resolved_config);
    };
    t.push_back(ev);
    Command generate = job("generate", "sample completions for a JSONL of prompts", "");
    generate.log_config = false;  // --prompt prints the completion on stdout
    generate.describe_config = [](config::Schema& s, config::Config& c) {
      describe_training(s, c);
      config::describe_rollout(s, c.rollout);
      config::describe_generate(s, c.generate);
    };
    generate.add_flags = add_generate_flags;
    generate.details =
        "Prompts: JSONL records {\"prompt\"[, \"id\"][, \"type\": math|code|plain]} in data.path, "
        "or --prompt.\n"
        "Output: JSONL {id, sample, prompt, completion, tokens, mean_entropy, finish_reason, "
        "truncated}.";
    generate.run = run_generate;
    t.push_back(generate);
    Command convert;
    convert.name = "convert";
    convert.summary = "convert between HF safetensors and acerl HDF5 checkpoints";
    convert.usage = "--init CONFIG.json --output DIR | --input CHECKPOINT --output DIR [options]";
    convert.details =
        "  --init CONFIG.json --output DIR    a randomly initialised model (HF initialisation, "
        "seeded)\n"
        "  --input HF_DIR --output DIR        re-type / re-shard safetensors; config.json carried "
        "over\n"
        "  --input CKPT.h5 --output DIR       export an acerl checkpoint's weights to HF "
        "safetensors\n"
        "  --input HF_DIR --output CKPT.h5    import HF weights as an acerl checkpoint (step 0)";
    convert.add_flags = add_convert_flags;
    convert.run = run_convert;
    t.push_back(convert);
    Command trace;
    trace.name = "trace";
    trace.summary = "summarise an acerl HDF5 trace";
    trace.usage = "TRACE.h5 [--csv PHASE]";
    trace.add_flags = add_trace_flags;
    trace.run = run_trace;
    t.push_back(trace);
    Command tune =
        job("tune-temperature", "find the sampling temperature that hits a target entropy", "");
    tune.describe_config = [](config::Schema& s, config::Config& c) {
      describe_training(s, c);
      config::describe_rollout(s, c.rollout);
      config::describe_rl(s, c.rl);
      config::describe_tune(s, c.tune);
    };
    tune.run = run_tune_temperature;
    t.push_back(tune);
    Command data;
    data.name = "data";
    data.summary = "data tools: tokenize, score, synth";
    data.usage = "ACTION [CONFIG.ini] [options]";
    data.details = data_details();
    data.add_flags = add_data_flags;
    data.describe_config = [](config::Schema& s, config::Config& c) {
      describe_common(s, c);
      config::describe_tokenizer(s, c.tokenizer);
      config::describe_math_reward(s, c.math_reward);
      config::describe_code_reward(s, c.code_reward);
    };
    data.run = run_data;
    t.push_back(data);
    return t;
  }();
  return table;
}

}  // namespace acerl::cli
