// The GRPO loop; see rl_trainer.h.
#include "train/rl_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <numeric>
#include <tuple>

#include "data/prompt_dataset.h"
#include "io/checkpoint.h"
#include "io/trace.h"
#include "job/setup.h"
#include "optim/adamw.h"
#include "parallel/gather.h"
#include "parallel/grad_sync.h"
#include "rl/filters.h"
#include "rl/grpo.h"
#include "rl/prompt_sampler.h"
#include "rl/rl_state.h"
#include "rl/rollout_batch.h"
#include "rl/temperature.h"
#include "rollout/rollout_setup.h"
#include "runtime/error.h"
#include "runtime/exit_codes.h"
#include "runtime/host_block_cache.h"
#include "runtime/log.h"
#include "runtime/mpi_check.h"
#include "runtime/signals.h"
#include "runtime/watchdog.h"
#include "train/profiler.h"
#include "train/rl_producer.h"
#include "train/rl_step.h"
#include "train/run_control.h"
#include "train/split_link.h"
#include "train/train_step.h"

namespace acerl::train {
namespace {

namespace fs = std::filesystem;

class RlTrainer {
 public:
  RlTrainer(MpiRuntime& runtime, const config::Config& cfg, const std::string& resolved)
      : runtime_(runtime), cfg_(cfg), resolved_(resolved), chat_(cfg.chat) {}

  int run(bool resume);
  // The split layout's steps have begun (from then on both sides must end together).
  bool split_running() const { return roles_.split && running_; }

 private:
  struct LearnResult {
    double loss = 0, grad_norm = 0, clip_fraction = 0, kl = 0, mismatch = 0;
    double is_weight_mean = 1, is_weight_max = 1;  // truncated importance weights (1: none)
    int64_t skipped_updates = 0;  // updates whose loss or gradient norm was not finite
  };

  // ---- setup ----
  void build(std::vector<Stage>& stages);  // job, model, optimizer, rewards, checkpoints
  rl::RlState resume(bool resume_flag, const std::vector<Stage>& stages);
  std::vector<Stage> load_stages();
  size_t stop_after_stage_index(const std::vector<Stage>& stages) const;
  void begin_stage(const Stage& stage, const rl::RlState& state, size_t stage_count);
  // The producer of a rank that generates (colocated: every rank; split: the rollout ranks),
  // with generation_.
  void start_producer();

  // ---- the split layout: rollout ranks produce, learner ranks consume (through link_) ----
  bool learner() const { return !roles_.rollout; }
  // The first batch held in ahead_, decoded and removed.
  StepBatch pop_ahead(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy);
  // Learner: the next step's batch, the first held in ahead_ or else the next message.
  StepBatch next_batch(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy);
  // Learner with rl.max_lag = k > 0, before a checkpoint at `step`: receives the batches its
  // rollout ranks generate ahead (steps step + 1 ... step + k, at most to the run's end) into
  // ahead_, so that the checkpoint holds them and a resume continues the pipeline.
  void pull_ahead(int64_t step);
  // Rollout rank at the end: reads the learner's remaining weights messages up to the one that
  // ends the run (`flag`, if already seen, is kStop or kEnd), then waits for its own sends.
  int finish_rollout(WeightsFlag flag = kContinue);
  // Waits for this rank's split-layout sends (none colocated).
  void finish_sends() {
    if (link_) link_->finish_sends();
  }

  // ---- the consumer: groups -> advantages -> learner rows -> GRPO update(s) ----
  LearnResult consume(StepBatch& batch, const Stage& stage, const rl::RlState& state);
  LearnResult learn(std::vector<rl::Rollout>& rollouts, const Stage& stage, double temperature,
                    int64_t step, bool stale);

  // ---- after the update: temperature control, trace and log, checkpoints ----
  void control_temperature(const Stage& stage, const StepTotals& totals, rl::RlState& state) const;
  void record(const Stage& stage, const rl::RlState& state, double used_temperature,
              StepBatch& batch, const LearnResult& learned, double t_learn,
              Clock::time_point step_start);
  // Saves the run at `state`, the position a resume continues from, with the stage's prompt
  // order and easy-prompt lists as they are now (and, split at lag k > 0, the batches generated
  // ahead of it).
  void save(rl::RlState state, const rl::PromptSampler& sampler, const rl::EasyPromptFilter& easy);

  MpiRuntime& runtime_;
  const config::Config& cfg_;
  const std::string& resolved_;
  tokenizer::ChatTemplate chat_;
  std::unique_ptr<tokenizer::Tokenizer> tok_;
  model::Qwen2Config architecture_;
  std::unique_ptr<parallel::ProcessGroups> groups_;
  model::Qwen2ForCausalLM model_{nullptr}, reference_{nullptr};
  std::unique_ptr<optim::AdamW> adamw_;
  std::unique_ptr<parallel::GradSync> sync_;
  std::vector<torch::Tensor> params_, split_, replicated_;
  std::unique_ptr<io::CheckpointManager> checkpoints_;
  std::unique_ptr<io::Trace> trace_;
  std::unique_ptr<RunControl> control_;
  job::SplitRoles roles_;
  std::unique_ptr<SplitLink> link_;  // split: the messages between the two sides
  std::unique_ptr<RlProducer> producer_;  // colocated, and split on the rollout ranks
  // Split at lag k > 0: the batches of the steps after this one that are already here (pulled
  // for a checkpoint, or read from one). A learner learns from them before receiving more; a
  // resumed rollout rank replays them (its prompt order, easy lists and temperature advance as
  // when it generated them) before generating.
  std::deque<BatchMessage> ahead_;
  int64_t run_end_step_ = 0;       // the last step of this invocation (rl.stop_after_stage)
  bool running_ = false;           // past setup: in the steps
  std::string last_checkpoint_;  // the newest checkpoint this run can go back to
  config::Config side_cfg_;      // cfg_ with this rank's side's layout (a rollout rank's own)
  rollout::GeneratorOptions generation_;  // (resolved at setup on every rank: a bad one is
                                          // an error before any model is built)
  model::Precision precision_ = model::Precision::bf16;
};

// The index of rl.stop_after_stage among the stages (the last stage when it is empty).
size_t RlTrainer::stop_after_stage_index(const std::vector<Stage>& stages) const {
  const std::string& name = cfg_.rl.stop_after_stage;
  if (name.empty()) return stages.size() - 1;
  std::string names;
  for (size_t i = 0; i < stages.size(); ++i) {
    if (stages[i].cfg.name == name) return i;
    names += (i ? ", " : "") + stages[i].cfg.name;
  }
  throw UsageError(str("rl.stop_after_stage = '", clip_text(name), "' is not a stage of this run (",
                       cfg_.stages.empty() ? "it has no [stage.NAME] sections; its one stage is "
                                           : "its stages, in order: ",
                       names, ")"));
}

std::vector<Stage> RlTrainer::load_stages() {
  std::vector<config::StageConfig> configs = cfg_.stages;
  if (configs.empty()) {
    config::StageConfig implicit;
    implicit.name = "main";
    implicit.data = cfg_.data.path;
    implicit.steps = cfg_.rl.steps;
    implicit.epochs = cfg_.rl.epochs;
    implicit.overlong_filter = cfg_.rl.overlong_filter;
    implicit.easy_filter = cfg_.rl.easy_filter;
    ACERL_USAGE_CHECK(!implicit.data.empty(),
                      "acerl rl needs prompts: data.path, or [stage.NAME] sections with data");
    configs.push_back(implicit);
  }
  std::vector<Stage> stages;
  for (const auto& c : configs) {
    Stage s;
    s.cfg = c;
    s.prompts = data::load_prompts(c.data, cfg_.data.skip_bad_lines, /*require_reference=*/true);
    if (!cfg_.rl.pass_rate_file.empty())
      s.prompts = rl::filter_by_pass_rate(s.prompts, cfg_.rl.pass_rate_file, cfg_.rl.pass_rate_min,
                                          cfg_.rl.pass_rate_max);
    ACERL_USAGE_CHECK(!s.prompts.empty(), "stage ", c.name,
                      ": no prompts left after the pass-rate filter");
    for (const auto& p : s.prompts) {
      s.prompt_ids.push_back(rollout::prompt_ids(p, *tok_, chat_, true));
      s.longest_prompt =
          std::max<int64_t>(s.longest_prompt, static_cast<int64_t>(s.prompt_ids.back().size()));
    }
    s.group_size = c.group_size > 0 ? c.group_size : cfg_.rl.group_size;
    s.prompts_per_step = c.prompts_per_step > 0 ? c.prompts_per_step : cfg_.rl.prompts_per_step;
    s.max_response =
        c.max_response_length > 0 ? c.max_response_length : cfg_.rollout.max_new_tokens;
    s.lr = c.lr > 0 ? c.lr : cfg_.rl.lr;
    const std::string t = c.temperature.empty() ? cfg_.rl.temperature : c.temperature;
    s.auto_temperature =
        !config::fixed_temperature(t, "stage." + c.name + ".temperature", &s.fixed_temperature);
    const int64_t per_epoch =
        (static_cast<int64_t>(s.prompts.size()) + s.prompts_per_step - 1) / s.prompts_per_step;
    s.steps = c.steps > 0 ? c.steps : per_epoch * c.epochs;
    // (Split: the learner replicas'; rollout replicas take any share.)
    const int replicas = roles_.split ? roles_.learner_replicas : groups_->layout().dp;
    ACERL_USAGE_CHECK(s.prompts_per_step % replicas == 0, "stage ", c.name,
                      ": prompts_per_step = ", s.prompts_per_step, " must be a multiple of the ",
                      roles_.split ? "learner replicas" : "data-parallel ranks", " (", replicas,
                      ")");
    ACERL_USAGE_CHECK(
        s.longest_prompt + s.max_response <= architecture_.max_position_embeddings, "stage ",
        c.name, ": longest prompt (", s.longest_prompt, ") + max_response_length (", s.max_response,
        ") exceeds max_position_embeddings = ", architecture_.max_position_embeddings);
    stages.push_back(std::move(s));
  }
  return stages;
}

RlTrainer::LearnResult RlTrainer::learn(std::vector<rl::Rollout>& rollouts, const Stage& stage,
                                        double temperature, int64_t step, bool stale) {
  const parallel::ProcessGroups& g = *groups_;
  // As few rows as the rollouts fill; the last micro-batch takes what is left (no empty rows).
  PackedRows rows = rl::learner_rows(rollouts, stage.longest_prompt + stage.max_response,
                                     stage.cfg.overlong_filter, 1, cfg_.rl.shared_prefix);
  if (cfg_.rl.kl_coef > 0)
    rows.ref_logprobs =
        token_logprobs(*reference_, g, rows, cfg_.rl.micro_batch, precision_, temperature);
  rl::GrpoLossOptions options{cfg_.rl.clip_eps_low, cfg_.rl.clip_eps_high, cfg_.rl.kl_coef,
                              cfg_.rl.entropy_coef};
  // Generated with older weights (split layout, rl.max_lag > 0), the rollout's policy is the
  // behaviour policy: its log-probs are the old ones of the clipped surrogate (is_correction =
  // clip), or weigh the on-policy gradient by min(pi / mu, is_cap) (truncated).
  const bool truncated = stale && cfg_.rl.is_correction == "truncated";
  const bool on_policy = cfg_.rl.updates_per_batch == 1 && (!stale || truncated);
  if (truncated) options.is_cap = cfg_.rl.is_cap;
  LearnResult out;
  for (int64_t update = 0; update < cfg_.rl.updates_per_batch; ++update) {
    // clipped, kl, |mismatch|, masked tokens, importance weights
    torch::Tensor sums = torch::zeros({5}, torch::kFloat64);
    torch::Tensor weight_max = torch::zeros({1}, torch::kFloat64);
    TokenLoss loss = [&](const torch::Tensor& logp, const torch::Tensor& entropy,
                         const PackedRows& m, double normaliser) {
      // Split: the next steps' groups that have come in meanwhile (lag > 0) file themselves.
      if (link_) link_->poll_groups();
      torch::Tensor mask = m.weights.reshape({-1});
      torch::Tensor rollout_lp = m.rollout_logprobs.reshape({-1});
      // Strictly on-policy the old log-probs are the current ones (ratio 1); with several updates
      // they are the rollout's, the behaviour policy's.
      auto terms = rl::grpo_token_loss(
          logp, on_policy ? torch::Tensor() : rollout_lp,
          m.ref_logprobs.defined() ? m.ref_logprobs.reshape({-1}) : torch::Tensor(), entropy,
          m.advantages.reshape({-1}), mask, normaliser, options,
          truncated ? rollout_lp : torch::Tensor());
      const double tokens = mask.sum().item<double>();
      sums[0] += terms.clipped.item<double>() * tokens;
      sums[1] += terms.kl.item<double>() * tokens;
      sums[2] += ((logp.detach() - rollout_lp).abs() * mask).sum().item<double>();
      sums[3] += tokens;
      sums[4] += terms.is_weight_mean.item<double>() * tokens;
      weight_max[0] = std::max(weight_max[0].item<double>(), terms.is_weight_max.item<double>());
      return terms.loss;
    };
    LossOptions loss_options;
    loss_options.temperature = temperature;
    loss_options.entropy = cfg_.rl.entropy_coef > 0;
    sync_->zero_grad();
    StepResult r;
    {
      ACERL_PROFILE_PHASE("acerl::forward_backward");
      r = forward_backward(*model_, g, rows, cfg_.rl.micro_batch, precision_, sync_.get(), loss,
                           loss_options);
    }
    if (fault_nan_at(step, g.rank())) params_.front().mutable_grad().fill_(NAN);
    ACERL_PROFILE_PHASE("acerl::optimizer");
    out.grad_norm = parallel::clip_grad_norm(split_, replicated_, g, cfg_.rl.grad_clip);
    // A non-finite loss or norm anywhere: no update anywhere.
    if (control_->step_is_finite(step, r.loss, out.grad_norm, params_, last_checkpoint_))
      adamw_->step(stage.lr);
    else
      ++out.skipped_updates;
    g.dp().all_reduce(sums);
    g.pp().broadcast(sums, g.pp().size() - 1);
    g.dp().all_reduce(weight_max, parallel::ReduceOp::max);
    g.pp().broadcast(weight_max, g.pp().size() - 1);
    const double tokens = std::max(1.0, sums[3].item<double>());
    out.is_weight_mean = sums[4].item<double>() / tokens;
    out.is_weight_max = weight_max[0].item<double>();
    if (update == 0) out.mismatch = sums[2].item<double>() / tokens;
    out.clip_fraction = sums[0].item<double>() / tokens;
    out.kl = sums[1].item<double>() / tokens;
    out.loss = r.loss;
  }
  return out;
}

void RlTrainer::save(rl::RlState state, const rl::PromptSampler& sampler,
                     const rl::EasyPromptFilter& easy) {
  state.epoch = sampler.epoch();
  state.cursor = static_cast<int64_t>(sampler.cursor());
  state.stage_prompts = static_cast<int64_t>(sampler.prompts());
  state.easy = easy.easy_prompts();
  state.solved = easy.solved_this_epoch();
  io::CheckpointInfo info{state.global_step, state.to_json(), resolved_,
                          json::dump(architecture_.to_json()), {}};
  if (roles_.split) {
    pull_ahead(state.global_step);
    for (const auto& message : ahead_) {
      const auto* bytes = message.payload.data_ptr<uint8_t>();
      info.replica_records.emplace_back(bytes, bytes + message.payload.numel());
    }
  }
  const auto t0 = Clock::now();
  last_checkpoint_ = checkpoints_->save(*model_, adamw_.get(), info);
  control_->record_checkpoint_seconds(seconds_since(t0));
  log0(str("rl step ", state.global_step, ": wrote ", last_checkpoint_));
}

void RlTrainer::build(std::vector<Stage>& stages) {
  runtime_.agree([&] {
    ACERL_USAGE_CHECK(cfg_.parallel.rollout_ranks > 0 || cfg_.rl.max_lag == 0, "rl.max_lag = ",
                      cfg_.rl.max_lag,
                      " needs the split layout (parallel.rollout_ranks > 0): colocated ranks "
                      "always generate with the latest weights");
    roles_ = job::split_roles(runtime_, cfg_);
    // A rollout replica of tp 1 (parallel.rollout_tp) builds its grid with that tp.
    // The rollout side's grid: its own replica count, and tp = pp = 1 when gathered
    // (parallel.rollout_tp, rollout_pp; no stage partition); parallel.dp is the learners'.
    side_cfg_ = cfg_;
    if (roles_.rollout) {
      side_cfg_.parallel.tp = roles_.rollout_tp;
      side_cfg_.parallel.pp = roles_.rollout_pp;
      side_cfg_.parallel.dp = roles_.rollout_replicas;
      if (roles_.gather) side_cfg_.model.layers_per_stage.clear();
    }
    auto basics = job::job_basics(runtime_, side_cfg_, roles_.side);
    architecture_ = basics.architecture;
    groups_ = std::move(basics.groups);
    tok_ = std::move(basics.tokenizer);
    precision_ = basics.precision;
    generation_ = rollout::generator_options(cfg_, *tok_, precision_);
    generation_.entropy_temperatures = cfg_.rl.entropy_grid.values;
    stages = load_stages();
    stop_after_stage_index(stages);  // a wrong name fails here, before any work
  });
  const parallel::ProcessGroups& g = *groups_;
  model_ = job::build_model(side_cfg_, architecture_, g);
  model_->set_activation_checkpointing(cfg_.model.activation_checkpointing);
  if (roles_.split) {
    link_ = std::make_unique<SplitLink>(roles_, cfg_, g, model_);
    auto replicas = [](int n, const char* side) {
      return str(n, " ", side, n == 1 ? " replica" : " replicas");
    };
    log0(str("parallel.rollout_ranks = ", cfg_.parallel.rollout_ranks, ": ranks 0-",
             roles_.learners - 1, " learn (", replicas(roles_.learner_replicas, "learner"),
             "), ranks ", roles_.learners, "-", runtime_.size() - 1, " generate and score (",
             replicas(roles_.rollout_replicas, "rollout"), " of tp ", roles_.rollout_tp, " x pp ",
             roles_.rollout_pp, roles_.gather ? ", gathering the learner replica's shards" : "",
             "), weights sent after every update; rl.max_lag = ", cfg_.rl.max_lag));
  }

  if (!learner()) {  // a rollout rank keeps the model for generation only
    start_producer();
    checkpoints_ = std::make_unique<io::CheckpointManager>(
        cfg_.checkpoint.dir.empty() ? (fs::path(cfg_.run.dir) / "checkpoints").string()
                                    : cfg_.checkpoint.dir,
        cfg_.checkpoint.keep, g);
    return;
  }
  if (cfg_.rl.kl_coef > 0) {
    reference_ = job::build_model(cfg_, architecture_, g);
    for (auto& p : reference_->parameters()) p.requires_grad_(false);
  }
  std::vector<bool> decay;
  for (const auto& s : model_->param_shards()) {
    params_.push_back(s.tensor);
    (s.split_dim >= 0 ? split_ : replicated_).push_back(s.tensor);
    decay.push_back(s.tensor.dim() >= 2);
  }
  adamw_ = std::make_unique<optim::AdamW>(
      params_, decay,
      optim::AdamWOptions{cfg_.rl.beta1, cfg_.rl.beta2, cfg_.rl.eps, cfg_.rl.weight_decay});
  sync_ = std::make_unique<parallel::GradSync>(params_, g.dp());
  if (!roles_.split) start_producer();
  checkpoints_ = std::make_unique<io::CheckpointManager>(
      cfg_.checkpoint.dir.empty() ? (fs::path(cfg_.run.dir) / "checkpoints").string()
                                  : cfg_.checkpoint.dir,
      cfg_.checkpoint.keep, g);
}

void RlTrainer::start_producer() {
  producer_ = std::make_unique<RlProducer>(cfg_, roles_, *groups_, model_, *tok_, generation_,
                                           link_.get());
}

// The whole RL state comes from the checkpoint (weights and AdamW moments are loaded into the
// model); a checkpoint of another phase (SFT) gives only the weights.
rl::RlState RlTrainer::resume(bool resume_flag, const std::vector<Stage>& stages) {
  rl::RlState state;
  if (!resume_flag && cfg_.checkpoint.resume == "never") return state;
  runtime_.agree([&] {
    std::string path = cfg_.checkpoint.resume == "never" || cfg_.checkpoint.resume == "auto"
                           ? checkpoints_->latest()
                           : cfg_.checkpoint.resume;
    if (path.empty()) {
      log0("resume: " + checkpoints_->dir() +
           " holds no checkpoint yet, starting from the "
           "beginning");
      return;
    }
    io::CheckpointInfo info = io::load_checkpoint(path, *model_, adamw_.get(), *groups_);
    const json::Value& s = info.state;
    if (!(s.find("phase") && s.at("phase").as_string() == "rl")) {
      log0(str("starting RL from the weights of ", path, " (an ",
               s.find("phase") ? s.at("phase").as_string() : "", " checkpoint)"));
      return;
    }
    state = rl::RlState::from_json(s, info.step, path);
    last_checkpoint_ = path;
    if (roles_.split && !learner() && weight_sync_dtype(cfg_) == torch::kBFloat16 &&
        state.global_step > 0) {
      // The uninterrupted run's rollout ranks hold these weights as they came over the wire.
      torch::NoGradGuard no_grad;
      for (const auto& p : model_->param_shards()) p.tensor.copy_(p.tensor.to(torch::kBFloat16));
    }
    // Split, every rank needs a learner replica's batches (a learner its own; a rollout rank one
    // of them, for the prompt order, easy lists and totals they end with, which every learner
    // replica's batch holds alike); colocated, rank 0 only says they are unused.
    const int learner_replicas = roles_.split ? roles_.learner_replicas : groups_->layout().dp;
    const int replica = learner() ? groups_->dp().rank() : roles_.replica % learner_replicas;
    const io::ReplicaRecords ahead = roles_.split || groups_->rank() == 0
                                         ? io::read_replica_records(path, replica)
                                         : io::ReplicaRecords{};
    if (roles_.split && ahead.replicas == learner_replicas) {
      for (const auto& bytes : ahead.records) {
        ahead_.push_back(BatchMessage::from_record(bytes));
      }
    } else if (ahead.replicas > 0) {
      log0(str("resume: ", path, " holds the batches generated ahead for ", ahead.replicas,
               " learner replicas; this layout (",
               roles_.split ? str(learner_replicas, " learner replicas") : std::string("colocated"),
               ") generates them afresh, so the run leaves the uninterrupted one's path"));
    }
    ACERL_USAGE_CHECK(state.stage <= stages.size(), "checkpoint ", path, " is at stage ",
                      state.stage + 1, " of a curriculum with more stages than the ",
                      stages.size(), " this config defines");
    if (state.stage_step > 0) {
      const Stage& stage = stages[state.stage];
      const int64_t written_with = state.stage_prompts;
      const auto now = static_cast<int64_t>(stage.prompts.size());
      ACERL_USAGE_CHECK(state.cursor >= 0 && state.cursor <= now && state.epoch >= 0 &&
                            (written_with == 0 || written_with == now),
                        "checkpoint ", path, " continues stage ", stage.cfg.name, " at prompt ",
                        state.cursor, " of ", written_with > 0 ? written_with : state.cursor,
                        ", but its prompt file ", stage.cfg.data, " now holds ", now,
                        " prompts: restore the file, or start the stage afresh from the "
                        "checkpoint of its start");
    }
    log0(str("resumed from ", path, " at rl step ", state.global_step, " (stage ", state.stage,
             ", step ", state.stage_step, ")"));
  });
  return state;
}

void RlTrainer::begin_stage(const Stage& stage, const rl::RlState& state, size_t stage_count) {
  if (trace_ && cfg_.rl.trace_rollouts) {
    json::Value ids = json::Array{};
    for (const auto& p : stage.prompts) ids.push_back(p.id);
    trace_->set_text("rl_rollouts", "prompt_ids_stage_" + std::to_string(state.stage),
                     json::dump(ids));
  }
  log0(str("rl stage ", stage.cfg.name, " (", state.stage + 1, "/", stage_count, "): ",
           stage.prompts.size(), " prompts, ", stage.steps, " steps of ", stage.prompts_per_step,
           " prompts x ", stage.group_size, " rollouts, responses up to ", stage.max_response,
           " tokens, temperature ",
           stage.auto_temperature ? "auto" : str(stage.fixed_temperature)));
}

StepBatch RlTrainer::pop_ahead(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy) {
  StepBatch batch =
      decode_batch(ahead_.front(), cfg_.rl.entropy_grid.values.size(), sampler, easy);
  ahead_.pop_front();
  return batch;
}

StepBatch RlTrainer::next_batch(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy) {
  if (!ahead_.empty()) return pop_ahead(sampler, easy);
  return decode_batch(link_->receive_batch(), cfg_.rl.entropy_grid.values.size(), sampler, easy);
}

void RlTrainer::pull_ahead(int64_t step) {
  // The rollout ranks generate these with weights the learner has already sent (step s uses
  // those after update s - 1 - k <= step - 1), so they come; the next one is due anyway.
  const int64_t want = std::min<int64_t>(cfg_.rl.max_lag, run_end_step_ - step);
  while (static_cast<int64_t>(ahead_.size()) < want) ahead_.push_back(link_->receive_batch());
}

int RlTrainer::finish_rollout(WeightsFlag flag) {
  while (flag == kContinue) flag = link_->receive_weights();
  link_->finish_sends();
  return flag == kStop ? kExitStopped : kExitFinished;
}

RlTrainer::LearnResult RlTrainer::consume(StepBatch& batch, const Stage& stage,
                                          const rl::RlState& state) {
  ACERL_PROFILE_PHASE("acerl::learn");
  LearnResult learned;
  if (batch.totals.kept() > 0) {  // (totals are over all replicas: every rank takes this branch)
    rl::assign_advantages(batch.kept, stage.group_size, cfg_.rl.adv_eps);
    return learn(batch.kept, stage, state.temperature, state.global_step + 1,
                 batch.weights_version < state.global_step);
  }
  // Nothing to learn from: no optimizer step (momentum and decay would move the weights).
  log0(str("rl step ", state.global_step + 1, ": every group was dropped; no optimizer step"));
  learned.loss = learned.grad_norm = std::numeric_limits<double>::quiet_NaN();
  learned.skipped_updates = cfg_.rl.updates_per_batch;
  return learned;
}

// The next step's temperature from this step's entropy curve.
void RlTrainer::control_temperature(const Stage& stage, const StepTotals& totals,
                                    rl::RlState& state) const {
  if (!stage.auto_temperature) return;
  const rl::TemperatureControl control{cfg_.rl.target_entropy, cfg_.rl.temperature_min,
                                       cfg_.rl.temperature_max, cfg_.rl.temperature_max_step};
  const std::vector<double> curve = totals.curve_means();
  if (!state.controller_started) {
    state.temperature = std::clamp(
        rl::temperature_for_entropy(cfg_.rl.entropy_grid.values, curve, control.target_entropy),
        control.t_min, control.t_max);
    state.controller_started = true;
  } else {
    state.temperature =
        rl::next_temperature(state.temperature, cfg_.rl.entropy_grid.values, curve, control);
  }
}

void RlTrainer::record(const Stage& stage, const rl::RlState& state, double used_temperature,
                       StepBatch& batch, const LearnResult& learned, double t_learn,
                       Clock::time_point step_start) {
  const parallel::ProcessGroups& g = *groups_;
  StepTotals& totals = batch.totals;
  const int64_t global_step = state.global_step;
  const double entropy = totals.entropy() / std::max(1.0, totals.tokens());
  if (trace_) {
    const std::vector<double> curve = totals.curve_means();
    io::Trace::Scalars row = {
        {"stage", double(state.stage)},
        {"temperature", used_temperature},
        {"entropy", entropy},
        {"loss", learned.loss},
        {"grad_norm", learned.grad_norm},
        {"lr", stage.lr},
        {"clip_fraction", learned.clip_fraction},
        {"kl", learned.kl},
        {"logprob_mismatch", learned.mismatch},
        {"groups_dropped", totals.dropped()},
        {"groups_kept", totals.kept()},
        {"prompts_drawn", totals.drawn()},
        {"response_length_mean", totals.length() / std::max(1.0, totals.rollouts())},
        {"response_length_max", double(batch.max_length)},
        {"truncation_rate", totals.truncated() / std::max(1.0, totals.rollouts())},
        {"time_generate", batch.t_generate},
        {"time_score", batch.t_score},
        {"time_learn", t_learn},
        {"skipped", double(learned.skipped_updates)},
        {"step_time", seconds_since(step_start)}};
    if (roles_.split) {
      row.emplace_back("lag", double(global_step - 1 - batch.weights_version));
      row.emplace_back("is_weight_mean", learned.is_weight_mean);
      row.emplace_back("is_weight_max", learned.is_weight_max);
      row.emplace_back("time_wait_rollouts", batch.t_wait);
      row.emplace_back("time_rollout_wait_weights", batch.t_rollout_wait);
      row.emplace_back("time_weight_sync", link_->last_send_seconds());  // the previous step's
      row.emplace_back("time_weight_transfer", batch.t_weight_transfer);
      row.emplace_back("weight_sync_bytes", batch.weight_bytes);
      row.emplace_back("groups_sent_early", batch.groups_sent_early);
      row.emplace_back("weight_sync_gbps", batch.t_weight_transfer > 0
                                                ? batch.weight_bytes / batch.t_weight_transfer / 1e9
                                                : 0.0);
    }
    for (size_t t = 0; t < kRewardTypes.size(); ++t) {
      if (totals.type_count(t) == 0) continue;
      row.emplace_back("reward/" + kRewardTypes[t], totals.type_reward(t) / totals.type_count(t));
      row.emplace_back("accuracy/" + kRewardTypes[t],
                       totals.type_correct(t) / totals.type_count(t));
      for (const auto& reason : kRewardReasons.at(kRewardTypes[t]))
        row.emplace_back("reasons/" + kRewardTypes[t] + "/" + reason,
                         totals.reason(kRewardTypes[t], reason));
    }
    std::vector<float> curve_row(curve.begin(), curve.end()), histogram, grid_row;
    for (int k = 0; k < kHistogramBins; ++k)
      histogram.push_back(static_cast<float>(totals.bin(static_cast<size_t>(k))));
    for (double t : cfg_.rl.entropy_grid.values) grid_row.push_back(static_cast<float>(t));
    trace_->add("rl", global_step, row,
                {{"entropy_curve", curve_row},
                 {"entropy_grid", grid_row},
                 {"entropy_histogram", histogram}});
  }
  if (cfg_.rl.trace_rollouts) {
    // This replica's rollouts; replicas other than the first send theirs to rank 0.
    std::vector<double> flat;
    for (const auto& x : batch.kept)
      flat.insert(flat.end(),
                  {double(x.prompt), double(x.sample), x.reward, double(x.tokens.size()),
                   x.entropies.empty()
                       ? 0.0
                       : std::accumulate(x.entropies.begin(), x.entropies.end(), 0.0) /
                             double(x.entropies.size())});
    const std::vector<double> all = parallel::all_gather_concat(flat, g.dp().mpi_comm());
    if (trace_) {
      std::vector<int64_t> steps(all.size() / 5, global_step);
      std::vector<std::pair<std::string, std::vector<double>>> columns(5);
      const char* names[] = {"prompt_index", "sample", "reward", "length", "entropy"};
      for (size_t c = 0; c < 5; ++c) {
        columns[c].first = names[c];
        for (size_t i = c; i < all.size(); i += 5) columns[c].second.push_back(all[i]);
      }
      trace_->add_rows("rl_rollouts", steps, columns);
    }
  }
  if (global_step % cfg_.log.interval == 0) {
    std::string rewards;
    for (size_t t = 0; t < kRewardTypes.size(); ++t)
      if (totals.type_count(t) > 0)
        rewards +=
            str(" | ", kRewardTypes[t], " acc ", totals.type_correct(t) / totals.type_count(t));
    char line[320];
    std::snprintf(line, sizeof line,
                  "rl step %lld (%s %lld/%lld) | T %.3f | H %.3f%s | len %.0f | trunc %.2f | "
                  "loss %.4f | gen %.1fs "
                  "learn %.1fs",
                  static_cast<long long>(global_step), stage.cfg.name.c_str(),
                  static_cast<long long>(state.stage_step + 1),
                  static_cast<long long>(stage.steps), used_temperature, entropy, rewards.c_str(),
                  totals.length() / std::max(1.0, totals.rollouts()),
                  totals.truncated() / std::max(1.0, totals.rollouts()), learned.loss,
                  batch.t_generate, t_learn);
    log0(line);
  }
}

int RlTrainer::run(bool resume_flag) {
  std::vector<Stage> stages;
  build(stages);
  const parallel::ProcessGroups& g = *groups_;
  const bool resuming = resume_flag || cfg_.checkpoint.resume != "never";
  rl::RlState state = resume(resume_flag, stages);
  if (learner()) checkpoints_->prepare(state.global_step);
  if (g.rank() == 0 && learner())
    trace_ = std::make_unique<io::Trace>(
        cfg_.trace.path.empty() ? (fs::path(cfg_.run.dir) / "trace.h5").string() : cfg_.trace.path,
        resolved_, resuming, state.global_step);
  // A rollout rank's RunControl only catches stop signals (reported with its batches): its
  // learner decides, and says so with the next weights.
  control_ = std::make_unique<RunControl>(cfg_, g.world(), "rl");
  Watchdog watchdog(cfg_.run.collective_timeout_s, runtime_.rank());
  StepProfiler profiler(
      cfg_.run.profile_steps,
      (fs::path(cfg_.run.dir) / "profile" / str("rl_rank", g.rank(), ".json")).string(),
      g.device().is_cuda());

  const size_t stop_after = stop_after_stage_index(stages);
  if (state.stage > stop_after) {
    log0(str("rl: stage ", stages[stop_after].cfg.name,
             " (rl.stop_after_stage) is already done in ", last_checkpoint_, "; nothing to do"));
    return kExitFinished;
  }
  running_ = true;
  // Split layout: the weights everyone starts from (the checkpoint's, or the initial ones), and
  // the last step of this invocation (no batch is generated or pulled ahead beyond it).
  const int64_t start_version = state.global_step;
  if (link_) link_->set_weights_version(start_version);
  run_end_step_ = state.global_step - state.stage_step;
  for (size_t i = state.stage; i <= stop_after; ++i) run_end_step_ += stages[i].steps;
  // The position a checkpoint written now would resume at.
  auto at = [&](size_t stage, int64_t stage_step) {
    rl::RlState s = state;
    s.stage = stage;
    s.stage_step = stage_step;
    return s;
  };
  for (; state.stage < stages.size(); ++state.stage, state.stage_step = 0) {
    Stage& stage = stages[state.stage];
    rl::PromptSampler sampler(stage.prompts.size(),
                              static_cast<uint64_t>(cfg_.run.seed) + state.stage * 1000003ull);
    rl::EasyPromptFilter easy;
    if (state.stage_step > 0) {  // resumed inside this stage
      sampler.restore(state.epoch, static_cast<size_t>(state.cursor));
      easy.restore(state.easy, state.solved);
    } else {
      state.temperature = stage.auto_temperature
                              ? (state.temperature > 0 ? state.temperature : 1.0)
                              : stage.fixed_temperature;
      state.controller_started = state.controller_started && stage.auto_temperature;
    }
    begin_stage(stage, state, stages.size());

    for (; state.stage_step < stage.steps; ++state.stage_step) {
      Watchdog::set_step(state.global_step + 1);
      ProfiledStep profiled(profiler, state.global_step + 1);
      const auto step_start = Clock::now();
      if (roles_.split && !learner() && !ahead_.empty()) {
        // Resumed: a batch the checkpoint holds (the learner learns from its copy).
        const StepBatch batch = pop_ahead(sampler, easy);
        ++state.global_step;
        control_temperature(stage, batch.totals, state);
        continue;
      }
      if (roles_.split && !learner()) {
        fault_stall_point();
        // A rollout rank: step s generates with the weights after update
        // max(start, s - 1 - max_lag), then hands the batch to the learners and moves on.
        const int64_t need =
            std::max(start_version, state.global_step - cfg_.rl.max_lag);  // s - 1 - max_lag
        auto t0 = Clock::now();
        while (link_->weights_version() < need) {
          const WeightsFlag flag = link_->receive_weights();
          if (flag != kContinue) return finish_rollout(flag);
        }
        const double waited = seconds_since(t0);
        StepBatch batch = producer_->produce(stage, sampler, easy, state);
        batch.weights_version = link_->weights_version();
        std::tie(batch.t_weight_transfer, batch.weight_bytes) = link_->take_transfer();
        batch.t_rollout_wait = waited - batch.t_weight_transfer;
        {
          // Over every rollout rank: the slowest one's times, and all the weight bytes received.
          torch::Tensor slowest =
              torch::tensor({batch.t_generate, batch.t_score, batch.t_rollout_wait,
                             batch.t_weight_transfer},
                            torch::kFloat64);
          g.world().all_reduce(slowest, parallel::ReduceOp::max);
          torch::Tensor bytes = torch::tensor({batch.weight_bytes}, torch::kFloat64);
          g.world().all_reduce(bytes);
          const double* t = slowest.data_ptr<double>();
          batch.t_generate = t[0];
          batch.t_score = t[1];
          batch.t_rollout_wait = t[2];
          batch.t_weight_transfer = t[3];
          batch.weight_bytes = bytes.item<double>();
        }
        batch.rollout_stop_signal = stop_signal_received();
        link_->send_step_end(batch, sampler, easy);
        ++state.global_step;
        control_temperature(stage, batch.totals, state);  // the learner does the same
        continue;
      }
      // Colocated, every rank produces and consumes; split, the learner receives the batch.
      StepBatch batch = roles_.split ? next_batch(sampler, easy)
                                     : producer_->produce(stage, sampler, easy, state);
      auto t0 = Clock::now();
      const LearnResult learned = consume(batch, stage, state);
      const double t_learn = seconds_since(t0);
      ++state.global_step;
      const double used_temperature = state.temperature;
      control_temperature(stage, batch.totals, state);

      const bool last = state.stage_step + 1 == stage.steps;
      const bool run_end = last && state.stage == stop_after;
      const bool interval =
          cfg_.checkpoint.interval > 0 && state.global_step % cfg_.checkpoint.interval == 0;
      record(stage, state, used_temperature, batch, learned, t_learn, step_start);
      if (interval && !last) save(at(state.stage, state.stage_step + 1), sampler, easy);
      control_->record_step_seconds(seconds_since(step_start));
      RunControl::Stop stop = RunControl::Stop::none;
      if (!(last && state.stage + 1 == stages.size()))
        stop = control_->should_stop(batch.rollout_stop_signal);
      if (roles_.split)  // after the decision: the rollout rank learns it with the weights
        link_->send_weights(state.global_step, stop != RunControl::Stop::none ? kStop
                                               : run_end                      ? kEnd
                                                                              : kContinue);
      if (last && state.stage + 1 == stages.size()) break;  // the final save follows
      if (stop != RunControl::Stop::none) {
        if (last)
          save(at(state.stage + 1, 0), sampler, easy);
        else if (!interval)
          save(at(state.stage, state.stage_step + 1), sampler, easy);
        // (The batches generated ahead of this step went into the checkpoint.)
        finish_sends();
        log0(str("rl: stopping at step ", state.global_step, " for ", control_->reason(stop),
                 "; checkpoint ", last_checkpoint_, "; exit ", kExitStopped,
                 ", resume with --resume"));
        return kExitStopped;
      }
    }
    if (roles_.split && !learner()) {
      if (state.stage == stop_after) return finish_rollout();
      state.epoch = state.cursor = 0;
      continue;
    }
    // End of stage: the next stage starts fresh (a new sampler; the temperature carries over).
    save(at(state.stage + 1, 0), sampler, easy);
    if (state.stage == stop_after && state.stage + 1 < stages.size()) {
      finish_sends();
      log0(str("rl: stage ", stage.cfg.name, " done at step ", state.global_step,
               " (rl.stop_after_stage); checkpoint ", last_checkpoint_,
               "; the next stage continues with --resume"));
      return kExitFinished;
    }
    state.epoch = state.cursor = 0;
    state.easy.clear();
    state.solved.clear();
  }
  finish_sends();
  log0(str("rl done after ", state.global_step, " steps"));
  return kExitFinished;
}

}  // namespace

int run_rl(MpiRuntime& runtime, const config::Config& config, const std::string& resolved_config,
           bool resume) {
  // Each step allocates what the step before it freed: from the block cache, not from malloc.
  HostBlockCacheScope host_blocks;
  RlTrainer trainer(runtime, config, resolved_config);
  try {
    return trainer.run(resume);
  } catch (const CollectiveFailure& failure) {
    // In the split layout a failure the learners decided among themselves (a non-finite step,
    // a checkpoint that cannot be written) leaves the rollout ranks waiting for weights: the
    // message is out, end every rank with its code.
    if (trainer.split_running()) MPI_Abort(runtime.world(), failure.exit_code);
    throw;
  }
}

}  // namespace acerl::train
