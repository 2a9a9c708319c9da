// defines: Config, every section of a run's configuration in one struct. Commands register the
// sections they read (cli/commands.cpp); the others keep their defaults.
#pragma once

#include "config/rl_sections.h"
#include "config/rollout_sections.h"
#include "config/sections.h"
#include "config/training_sections.h"

namespace acerl::config {

struct Config {
  RunConfig run;
  ParallelConfig parallel;
  LogConfig log;
  TokenizerConfig tokenizer;
  ChatConfig chat;
  ModelConfig model;
  DataConfig data;
  SftConfig sft;
  TrainConfig train;
  CheckpointConfig checkpoint;
  TraceConfig trace;
  RolloutConfig rollout;
  GenerateConfig generate;
  CodeRewardConfig code_reward;
  MathRewardConfig math_reward;
  RlConfig rl;
  EvalConfig eval;
  TuneConfig tune;
  std::vector<StageConfig> stages;  // from [stage.NAME] sections, in order
};

}  // namespace acerl::config
