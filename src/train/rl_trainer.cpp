// The GRPO loop; see rl_trainer.h.
#include "train/rl_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <tuple>

#include "data/prompt_dataset.h"
#include "io/bytes.h"
#include "io/checkpoint.h"
#include "io/trace.h"
#include "job/setup.h"
#include "optim/adamw.h"
#include "parallel/gather.h"
#include "parallel/grad_sync.h"
#include "parallel/messages.h"
#include "reward/registry.h"
#include "rl/filters.h"
#include "rl/group_stream.h"
#include "rl/grpo.h"
#include "rl/prompt_sampler.h"
#include "rl/rl_state.h"
#include "rl/rollout_batch.h"
#include "rl/round_scorer.h"
#include "rl/temperature.h"
#include "rollout/rollout_setup.h"
#include "runtime/error.h"
#include "runtime/exit_codes.h"
#include "runtime/host_block_cache.h"
#include "runtime/log.h"
#include "runtime/mpi_check.h"
#include "runtime/serial_worker.h"
#include "runtime/signals.h"
#include "runtime/watchdog.h"
#include "train/profiler.h"
#include "train/run_control.h"
#include "train/train_step.h"

namespace acerl::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kTypes = {"math", "code"};
const std::map<std::string, std::vector<std::string>> kReasons = {
    {"math", {"correct", "wrong", "no_answer", "unparsable"}},
    {"code",
     {"correct", "wrong_answer", "runtime_error", "timeout", "memory", "output_limit", "no_code",
      "bad_tests"}}};
constexpr int kHistogramBins = 20;
constexpr int kBatchTag = 41;    // split layout: rollout rank -> learner, a step's end
constexpr int kWeightsTag = 42;  // split layout: learner -> rollout rank
constexpr int kGroupTag = 43;    // split layout: rollout rank -> learner, one kept group
constexpr int kManifestTag = 44;  // split, gathered: learner -> rollout rank, what it sends
constexpr double kHistogramMax = 4.0;  // nats; the last bin also holds everything above

// Bytes as a uint8 tensor: what the split layout's messages travel and are kept as.
torch::Tensor byte_tensor(const std::vector<uint8_t>& bytes) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Stage {
  config::StageConfig cfg;
  std::vector<data::PromptRecord> prompts;
  std::vector<std::vector<int64_t>> prompt_ids;
  int64_t longest_prompt = 1, steps = 0, group_size = 1, prompts_per_step = 1, max_response = 1;
  double lr = 0, fixed_temperature = 1.0;
  bool auto_temperature = false;
};

// The per-step sums over the step's groups (each replica's groups, gathered over the
// data-parallel ranks and added in key order), in one flat vector.
class StepTotals {
 public:
  explicit StepTotals(size_t grid) : grid_(grid), values_(size(), 0.0) {}
  size_t size() const {
    size_t reasons = 0;
    for (const auto& [type, list] : kReasons) reasons += list.size();
    return 8 + 3 * kTypes.size() + reasons + grid_ + kHistogramBins;
  }
  double& rollouts() { return values_[0]; }
  double& tokens() { return values_[1]; }
  double& entropy() { return values_[2]; }
  double& length() { return values_[3]; }
  double& truncated() { return values_[4]; }
  double& dropped() { return values_[5]; }
  double& kept() { return values_[6]; }
  double& drawn() { return values_[7]; }
  double& type_count(size_t t) { return values_[8 + 3 * t]; }
  double& type_reward(size_t t) { return values_[9 + 3 * t]; }
  double& type_correct(size_t t) { return values_[10 + 3 * t]; }
  double& reason(const std::string& type, const std::string& reason) {
    size_t at = 8 + 3 * kTypes.size();
    for (const auto& [t, list] : kReasons) {
      for (const auto& r : list) {
        if (t == type && r == reason) return values_[at];
        ++at;
      }
    }
    return unknown_;  // a reason outside the canonical list is not traced
  }
  double& curve(size_t k) { return values_[size() - kHistogramBins - grid_ + k]; }
  double& bin(size_t k) { return values_[size() - kHistogramBins + k]; }
  void add_rollout(const rl::Rollout& r, const std::string& type) {
    rollouts() += 1;
    tokens() += static_cast<double>(r.tokens.size());
    length() += static_cast<double>(r.tokens.size());
    truncated() += r.truncated;
    for (size_t i = 0; i < r.entropies.size(); ++i) {
      entropy() += r.entropies[i];
      bin(std::min<size_t>(kHistogramBins - 1, static_cast<size_t>(r.entropies[i] / kHistogramMax *
                                                                   kHistogramBins))) += 1;
      for (size_t k = 0; k < grid_; ++k) curve(k) += r.curve[i * grid_ + k];
    }
    for (size_t t = 0; t < kTypes.size(); ++t) {
      if (kTypes[t] != type) continue;
      type_count(t) += 1;
      type_reward(t) += r.reward;
      type_correct(t) += r.reward > 0;
    }
    reason(type, r.reason) += 1;
  }
  void add(const double* values) {
    for (size_t i = 0; i < values_.size(); ++i) values_[i] += values[i];
  }
  const std::vector<double>& values() const { return values_; }
  void assign(std::vector<double> values) {
    ACERL_CHECK(values.size() == values_.size(), "step totals of ", values.size(),
                " values, expected ", values_.size());
    values_ = std::move(values);
  }
  std::vector<double> curve_means() const {
    std::vector<double> out;
    const size_t first = size() - kHistogramBins - grid_;
    for (size_t k = 0; k < grid_; ++k) out.push_back(values_[first + k] / std::max(1.0, values_[1]));
    return out;
  }

 private:
  size_t grid_;
  std::vector<double> values_;
  double unknown_ = 0;
};

// One step's work as the producer hands it to the consumer: this replica's kept rollouts (whole
// groups, in drawing order) and the step's totals over every replica.
struct StepBatch {
  explicit StepBatch(size_t grid) : totals(grid) {}
  std::vector<rl::Rollout> kept;
  std::vector<rl::GroupKey> kept_keys;  // the kept groups' keys, in the order of `kept`
  std::vector<int> kept_learners;       // split: the learner replica each kept group goes to
  StepTotals totals;
  int64_t max_length = 0;  // longest response kept by any replica
  double t_generate = 0, t_score = 0;
  // Split layout: the weights version the rollouts used (updates done), the rollout rank's wait
  // for those weights (idle, then receiving and unpacking them: the bytes received since its
  // previous batch), whether a stop signal reached it; the learner's wait for the batch.
  int64_t weights_version = 0;
  double t_rollout_wait = 0, t_weight_transfer = 0, weight_bytes = 0, t_wait = 0;
  // Kept groups the rollout replicas sent while they were still generating (depends on timing).
  double groups_sent_early = 0;
  bool rollout_stop_signal = false;
};

// Split layout: what a weights message says besides the weights.
enum WeightsFlag : int64_t { kContinue = 0, kStop = 1, kEnd = 2 };

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

  // ---- the producer: prompts -> rollouts -> scored groups (dynamic sampling refills) ----
  StepBatch produce(const Stage& stage, rl::PromptSampler& sampler, rl::EasyPromptFilter& easy,
                    const rl::RlState& state);
  // The rollouts of `prompts` (G each), in prompt order; `on_group`, if given, gets each prompt's
  // group (its index in `prompts`, its rollouts) as soon as the group has finished, and
  // `after_step` runs after each decode step.
  using OnGroup = std::function<void(size_t, std::vector<rl::Rollout>)>;
  std::vector<rl::Rollout> generate(const Stage& stage, const std::vector<size_t>& prompts,
                                    double temperature, int64_t step, int64_t round,
                                    const OnGroup& on_group = nullptr,
                                    const std::function<void()>& after_step = nullptr);
  // The replica's first rank (on scorer_, while generation goes on): `rollouts`' rewards as
  // (score, reason) pairs, the reason as its index in kReasons (-1: another one).
  std::vector<double> reward_values(const Stage& stage,
                                    const std::vector<const rl::Rollout*>& rollouts) const;
  // Writes the pairs of reward_values into the rollouts.
  static void apply_rewards(const Stage& stage, const double* values,
                            std::vector<rl::Rollout>& rollouts, size_t first, size_t count);
  // Whether dynamic sampling keeps a group of these rollouts.
  bool keeps(const std::vector<rl::Rollout>& rollouts, size_t first, size_t count) const;

  // ---- the split layout: rollout ranks produce, learner ranks consume ----
  bool learner() const { return !roles_.rollout; }
  // Rollout rank: the ranks of learner replica `j` it sends groups and step ends to (on
  // streams_): the one of its own position, or, gathered into a tp-1 rollout rank, all of them.
  std::vector<int> learner_ranks_of(int j) const;
  // Rollout rank -> learner replica `learner` (non-blocking, the buffer kept until sent): one
  // group dynamic sampling keeps, from the scoring rank as soon as it is scored, from the
  // replica's other ranks when the round's rewards reach them. Slot s of a round goes to the
  // learner replica whose share of the round's prompts holds s, as in the colocated run.
  void send_group(const rl::GroupKey& key, const std::vector<rl::Rollout>& rollouts, size_t first,
                  size_t count, int learner);
  // Learner: files the group messages that have arrived (never waits).
  void poll_groups();
  // Rollout rank -> every learner replica (non-blocking, the buffer kept until sent): the end of
  // a step, with the keys of the kept groups it sent that replica (the groups went ahead,
  // send_group), the totals and the stage's prompt order and easy lists after it, which
  // decode_batch() mirrors.
  void send_batch(const StepBatch& batch, const rl::PromptSampler& sampler,
                  const rl::EasyPromptFilter& easy);
  // A step's batch as the learner keeps it (reassembled from the step ends of every rollout
  // replica and their groups, in key order): its bytes, and how long the learner waited for it.
  struct BatchMessage {
    torch::Tensor payload;  // uint8
    double t_wait = 0;
    double groups_sent_early = 0;  // (timing: not in the payload, which checkpoints keep)
    // A stop signal reached a rollout rank (not in the payload either: a checkpoint's batches
    // report none).
    bool rollout_stop_signal = false;
  };
  BatchMessage receive_batch_message();
  // The message's batch; mirrors the producer's prompt order and easy lists into `sampler` and
  // `easy`.
  StepBatch decode_batch(const BatchMessage& message, rl::PromptSampler& sampler,
                         rl::EasyPromptFilter& easy) const;
  // The first batch held in ahead_, decoded and removed.
  StepBatch pop_ahead(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy);
  // Learner: the next step's batch, the first held in ahead_ or else the next message.
  StepBatch next_batch(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy);
  // Learner with rl.max_lag = k > 0, before a checkpoint at `step`: receives the batches its
  // rollout ranks generate ahead (steps step + 1 ... step + k, at most to the run's end) into
  // ahead_, so that the checkpoint holds them and a resume continues the pipeline.
  void pull_ahead(int64_t step);
  // Learner rank -> its rollout rank after every update (non-blocking, the buffer kept until
  // sent): every parameter, flat, fp32 (exact), its version (updates done) and a flag.
  void send_weights(int64_t version, WeightsFlag flag);
  // Rollout rank: the next weights message into the model; its flag.
  WeightsFlag receive_weights();
  // Split, at setup: what each weights message holds. Equal layouts: every parameter of the
  // rank, in order. Gathered: each learner rank sends its rollout replicas a manifest (name,
  // split dim, offset and length of each piece it sends: its tp slices, the replicated
  // parameters from tp rank 0 only, of its pipeline stage), which the rollout rank maps onto its
  // whole model by name, checking that the pieces cover every parameter once.
  void weight_layout();
  // Learner, gathered: whether this rank sends `shard` (a replicated one comes from tp rank 0).
  bool sends(const model::ParamShard& shard) const {
    return !roles_.gather || shard.split_dim >= 0 || groups_->tp().rank() == 0;
  }
  // The weights' precision on the wire (rl.weight_sync_dtype).
  torch::ScalarType weight_dtype() const {
    return cfg_.rl.weight_sync_dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  }
  // Drops the buffers of completed sends; waits for all of this rank's posted sends (the other
  // side receives them all).
  void prune_sends();
  void finish_sends();
  // Rollout rank at the end: reads the learner's remaining weights messages up to the one that
  // ends the run (`flag`, if already seen, is kStop or kEnd), then waits for its own sends.
  int finish_rollout(WeightsFlag flag = kContinue);

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
  std::unique_ptr<reward::RewardRegistry> rewards_;
  // The replica's first rank: scores each group on a thread of its own as soon as the generator
  // reports it (declared after rewards_, which its jobs use: it ends first).
  std::unique_ptr<SerialWorker> scorer_;
  std::unique_ptr<io::CheckpointManager> checkpoints_;
  std::unique_ptr<io::Trace> trace_;
  std::unique_ptr<RunControl> control_;
  job::SplitRoles roles_;
  // Split: weight sync within the group of learner replica j and the rollout replicas i with
  // i % L = j (learners first). A learner rank sends its weights to weight_targets_ (the rank of
  // its position in each of those rollout replicas, or their one rank when gathered); a rollout
  // rank receives them from learner_peers_. Groups and step ends travel on streams_ (world
  // ranks): a learner rank hears them from rollout_sources_ (one rank of every rollout replica).
  std::unique_ptr<parallel::Communicator> group_, streams_;
  std::vector<int> weight_targets_, learner_peers_, rollout_sources_;
  std::deque<std::pair<std::unique_ptr<parallel::CommRequest>, torch::Tensor>> sending_;
  rl::GroupInbox inbox_;  // learner: the groups received, filed by (step, round, slot)
  // Split at lag k > 0: the batches of the steps after this one that are already here (pulled
  // for a checkpoint, or read from one). A learner learns from them before receiving more; a
  // resumed rollout rank replays them (its prompt order, easy lists and temperature advance as
  // when it generated them) before generating.
  std::deque<BatchMessage> ahead_;
  int64_t run_end_step_ = 0;       // the last step of this invocation (rl.stop_after_stage)
  int64_t weights_version_ = 0;    // rollout rank: updates behind the weights it holds
  // Rollout rank: what each of learner_peers_ sends in a weights message, in order (gathered:
  // from its manifest).
  struct WeightPiece {
    torch::Tensor target;  // where it goes: a parameter, or its slice along a split dim
    int64_t numel = 0;
  };
  std::vector<std::vector<WeightPiece>> weight_pieces_;
  double last_weight_sync_s_ = 0;  // learner: packing and posting the last weights
  // Rollout rank: receiving and unpacking weights since its last batch, and their bytes.
  double weight_transfer_s_ = 0, weight_bytes_ = 0;
  bool running_ = false;           // past setup: in the steps
  std::string last_checkpoint_;  // the newest checkpoint this run can go back to
  config::Config side_cfg_;      // cfg_ with this rank's side's layout (a rollout rank's own)
  rollout::GeneratorOptions generation_;
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

std::vector<rl::Rollout> RlTrainer::generate(const Stage& stage, const std::vector<size_t>& prompts,
                                             double temperature, int64_t step, int64_t round,
                                             const OnGroup& on_group,
                                             const std::function<void()>& after_step) {
  rollout::GeneratorOptions options = generation_;
  options.sampling.temperature = temperature;
  options.max_new_tokens = stage.max_response;
  std::vector<rollout::GenerationRequest> requests;
  for (size_t p : prompts)
    requests.push_back(
        {str(stage.prompts[p].id, "#", step, "#", round), stage.prompt_ids[p], stage.group_size});
  auto to_rollout = [&](rollout::Completion c) {
    rl::Rollout r;
    r.prompt = prompts[c.request];
    r.sample = c.sample;
    r.prompt_ids = stage.prompt_ids[r.prompt];
    r.tokens = std::move(c.tokens);
    r.logprobs = std::move(c.logprobs);
    r.entropies = std::move(c.entropies);
    r.curve = std::move(c.entropy_curve);
    r.truncated = c.truncated;
    return r;
  };
  rollout::RequestDone done;
  if (on_group)
    done = [&](size_t request, const rollout::Completion* first, size_t count) {
      std::vector<rl::Rollout> group;
      for (size_t i = 0; i < count; ++i) group.push_back(to_rollout(first[i]));
      on_group(request, std::move(group));
    };
  auto completions =
      rollout::Generator(*model_, *groups_, options).generate(requests, done, after_step);
  std::vector<rl::Rollout> out;
  for (auto& c : completions) out.push_back(to_rollout(std::move(c)));
  return out;
}

std::vector<double> RlTrainer::reward_values(
    const Stage& stage, const std::vector<const rl::Rollout*>& rollouts) const {
  std::vector<std::string> texts;
  for (const rl::Rollout* r : rollouts) {
    std::vector<int32_t> ids;
    for (int64_t t : r->tokens)
      if (t < tok_->vocab_size()) ids.push_back(static_cast<int32_t>(t));
    texts.push_back(tok_->decode(ids, /*skip_special=*/true));
  }
  std::vector<reward::RewardRequest> requests;
  for (size_t i = 0; i < rollouts.size(); ++i) {
    const auto& p = stage.prompts[rollouts[i]->prompt];
    requests.push_back({p.type, texts[i], &p.answer, &p.tests, p.where});
  }
  auto results = rewards_->score(requests);
  std::vector<double> values;
  for (size_t i = 0; i < results.size(); ++i) {
    values.push_back(results[i].score);
    const auto& list = kReasons.at(stage.prompts[rollouts[i]->prompt].type);
    auto at = std::find(list.begin(), list.end(), results[i].reason);
    values.push_back(at == list.end() ? -1.0 : static_cast<double>(at - list.begin()));
  }
  return values;
}

void RlTrainer::apply_rewards(const Stage& stage, const double* values,
                              std::vector<rl::Rollout>& rollouts, size_t first, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    rl::Rollout& r = rollouts[first + i];
    r.reward = values[2 * i];
    const auto reason = static_cast<int64_t>(values[2 * i + 1]);
    const auto& list = kReasons.at(stage.prompts[r.prompt].type);
    r.reason = reason >= 0 ? list[static_cast<size_t>(reason)] : "other";
  }
}

bool RlTrainer::keeps(const std::vector<rl::Rollout>& rollouts, size_t first, size_t count) const {
  if (!cfg_.rl.drop_zero_variance_groups) return true;
  std::vector<double> r;
  for (size_t i = 0; i < count; ++i) r.push_back(rollouts[first + i].reward);
  return !rl::zero_variance_groups({r})[0];
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
      if (roles_.split) poll_groups();
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
    group_ = parallel::make_axis(roles_.group, "weights",
                                 {g.device(), cfg_.run.collective_timeout_s});
    streams_ = parallel::make_mpi_communicator(roles_.streams);
    const int per_learner = roles_.learner_ranks, L = roles_.learner_replicas,
              R = roles_.rollout_replicas, per_rollout = roles_.gather ? 1 : per_learner;
    const int mirror = roles_.gather ? 0 : roles_.position;  // the rank of a rollout replica
    if (learner()) {
      for (int i = 0; i < R; ++i)
        rollout_sources_.push_back(roles_.learners + i * per_rollout + mirror);
      for (int i = roles_.replica, m = 0; i < R; i += L, ++m)
        weight_targets_.push_back(per_learner + m * per_rollout + mirror);
    } else if (roles_.gather) {
      for (int t = 0; t < per_learner; ++t) learner_peers_.push_back(t);
    } else {
      learner_peers_.push_back(roles_.position);
    }
    weight_layout();
    if (g.device().is_cuda()) {  // NCCL starts now, on both sides, not at the first weights
      torch::Tensor probe = torch::zeros({1}, torch::TensorOptions().device(g.device()));
      group_->broadcast(probe, 0);
    }
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
    if (g.replica().rank() == 0) {
      rewards_ = std::make_unique<reward::RewardRegistry>(cfg_.math_reward, cfg_.code_reward);
      scorer_ = std::make_unique<SerialWorker>();
    }
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
  if (g.replica().rank() == 0 && !roles_.split) {
    rewards_ = std::make_unique<reward::RewardRegistry>(cfg_.math_reward, cfg_.code_reward);
    scorer_ = std::make_unique<SerialWorker>();
  }
  checkpoints_ = std::make_unique<io::CheckpointManager>(
      cfg_.checkpoint.dir.empty() ? (fs::path(cfg_.run.dir) / "checkpoints").string()
                                  : cfg_.checkpoint.dir,
      cfg_.checkpoint.keep, g);
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
    if (roles_.split && !learner() && weight_dtype() == torch::kBFloat16 && state.global_step > 0) {
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
        BatchMessage message;
        message.payload = byte_tensor(bytes);
        ahead_.push_back(std::move(message));
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

StepBatch RlTrainer::produce(const Stage& stage, rl::PromptSampler& sampler,
                             rl::EasyPromptFilter& easy, const rl::RlState& state) {
  const parallel::ProcessGroups& g = *groups_;
  StepBatch batch(cfg_.rl.entropy_grid.values.size());
  batch.weights_version = state.global_step;  // this rank's weights: the latest (colocated)
  StepTotals& totals = batch.totals;
  auto skip = [&](size_t p) { return stage.cfg.easy_filter && easy.easy(stage.prompts[p].id); };
  auto epoch_end = [&] { easy.end_epoch(); };
  std::vector<std::pair<size_t, std::vector<double>>> group_rewards;  // this replica's groups
  // Each of this replica's groups as (round, slot, its totals), summed over the replicas in that
  // order at the end: the summation order does not depend on how many replicas generate (the
  // totals do only where the groups' own values do).
  std::vector<double> group_totals;
  double kept_here = 0;
  size_t needed = static_cast<size_t>(stage.prompts_per_step);
  for (int64_t round = 0; needed > 0; ++round) {
    std::vector<size_t> drawn = sampler.next(needed, skip, epoch_end);
    if (drawn.empty()) break;
    auto [first, count] = rollout::replica_share(drawn.size(), g);
    std::vector<size_t> mine(drawn.begin() + static_cast<std::ptrdiff_t>(first),
                             drawn.begin() + static_cast<std::ptrdiff_t>(first + count));
    const auto G = static_cast<size_t>(stage.group_size);
    auto key = [&](size_t k) {  // this replica's prompt k of this round of the coming step
      return rl::GroupKey{state.global_step + 1, round, static_cast<int64_t>(first + k)};
    };
    auto learner_of = [&](size_t k) {  // split: the learner replica that learns from it
      return static_cast<int>(rollout::share_owner(
          drawn.size(), static_cast<size_t>(roles_.learner_replicas), first + k));
    };
    // The replica's first rank scores the groups on scorer_ as the generator finishes them, and in
    // the split layout sends each kept group to its learners as soon as its rewards are in.
    const bool scoring = g.replica().rank() == 0;
    std::optional<rl::RoundScorer> round_scorer;
    if (scoring)
      round_scorer.emplace(
          *scorer_, mine.size(), G,
          [this, &stage](const std::vector<const rl::Rollout*>& r) {
            return reward_values(stage, r);
          },
          [&](size_t k, std::vector<rl::Rollout>& group, const double* values, bool generating) {
            if (!roles_.split) return;
            apply_rewards(stage, values, group, 0, G);
            if (!keeps(group, 0, G)) return;
            send_group(key(k), group, 0, G, learner_of(k));
            if (generating) batch.groups_sent_early += 1;
          });
    OnGroup on_group = [&](size_t k, std::vector<rl::Rollout> group) {
      round_scorer->add(k, std::move(group));
    };
    auto t0 = Clock::now();
    std::vector<rl::Rollout> rollouts;
    {
      ACERL_PROFILE_PHASE("acerl::generate");
      rollouts = generate(stage, mine, state.temperature, state.global_step, round,
                          scoring ? on_group : nullptr,
                          scoring ? [&] { round_scorer->poll(); } : std::function<void()>());
    }
    batch.t_generate += seconds_since(t0);
    t0 = Clock::now();
    {
      // What is left of scoring after the generation: the groups that finished last, and the
      // rewards to the rest of the replica.
      ACERL_PROFILE_PHASE("acerl::score");
      torch::Tensor scores =
          torch::zeros({static_cast<int64_t>(rollouts.size()) * 2}, torch::kFloat64);
      if (scoring) {
        const std::vector<double> values = round_scorer->finish();
        ACERL_CHECK(values.size() == rollouts.size() * 2, "scored ", values.size() / 2, " of ",
                    rollouts.size(), " rollouts");
        std::copy(values.begin(), values.end(), scores.data_ptr<double>());
      }
      g.replica().broadcast(scores, 0);
      apply_rewards(stage, scores.data_ptr<double>(), rollouts, 0, rollouts.size());
    }
    batch.t_score += seconds_since(t0);
    for (size_t k = 0; k < mine.size(); ++k) {
      std::vector<double> r;
      StepTotals group(cfg_.rl.entropy_grid.values.size());
      group.drawn() = 1;
      for (size_t i = 0; i < G; ++i) {
        const rl::Rollout& x = rollouts[k * G + i];
        r.push_back(x.reward);
        group.add_rollout(x, stage.prompts[x.prompt].type);
      }
      group_rewards.emplace_back(mine[k], r);
      const bool kept = keeps(rollouts, k * G, G);
      (kept ? group.kept() : group.dropped()) = 1;
      group_totals.push_back(static_cast<double>(round));
      group_totals.push_back(static_cast<double>(first + k));
      group_totals.insert(group_totals.end(), group.values().begin(), group.values().end());
      if (!kept) continue;
      kept_here += 1;
      batch.kept_keys.push_back(key(k));
      if (roles_.split) batch.kept_learners.push_back(learner_of(k));
      // A rollout rank that did not score sends its kept groups now (the first one sent them).
      if (roles_.split && !scoring) send_group(key(k), rollouts, k * G, G, learner_of(k));
      for (size_t i = 0; i < G; ++i) batch.kept.push_back(rollouts[k * G + i]);
    }
    if (!cfg_.rl.drop_zero_variance_groups || round >= cfg_.rl.max_refill_rounds) break;
    torch::Tensor kept_total = torch::tensor({kept_here}, torch::kFloat64);
    g.dp().all_reduce(kept_total);
    needed = static_cast<size_t>(
        std::max(0.0, static_cast<double>(stage.prompts_per_step) - kept_total.item<double>()));
  }
  // Every rank learns which prompts every rollout solved (the easy filter must agree).
  std::vector<double> solved;
  for (const auto& [p, r] : group_rewards) {
    bool all = std::all_of(r.begin(), r.end(), [](double x) { return x > 0; });
    solved.push_back(all ? static_cast<double>(p) : -1.0);
  }
  for (double p : parallel::all_gather_concat(solved, g.dp().mpi_comm()))
    if (p >= 0) easy.observe(stage.prompts[static_cast<size_t>(p)].id, {1.0});
  int64_t longest = 0;
  for (const auto& r : batch.kept)
    longest = std::max<int64_t>(longest, static_cast<int64_t>(r.tokens.size()));
  torch::Tensor t = torch::tensor({longest}, torch::kInt64);
  g.dp().all_reduce(t, parallel::ReduceOp::max);
  batch.max_length = t.item<int64_t>();
  {
    const std::vector<double> all = parallel::all_gather_concat(group_totals, g.dp().mpi_comm());
    const size_t width = 2 + totals.size();
    std::vector<size_t> order;  // record starts, by (round, slot)
    for (size_t at = 0; at < all.size(); at += width) order.push_back(at);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::tie(all[a], all[a + 1]) < std::tie(all[b], all[b + 1]);
    });
    for (size_t at : order) totals.add(&all[at + 2]);
  }
  if (roles_.split) {
    torch::Tensor early = torch::tensor({batch.groups_sent_early}, torch::kFloat64);
    g.dp().all_reduce(early);
    batch.groups_sent_early = early.item<double>();
  }
  return batch;
}

std::vector<int> RlTrainer::learner_ranks_of(int j) const {
  const int first = j * roles_.learner_ranks;
  if (!roles_.gather) return {first + roles_.position};
  std::vector<int> all;
  for (int t = 0; t < roles_.learner_ranks; ++t) all.push_back(first + t);
  return all;
}

void RlTrainer::send_batch(const StepBatch& batch, const rl::PromptSampler& sampler,
                           const rl::EasyPromptFilter& easy) {
  // The same for every learner replica: the rest as a batch message has it (see
  // receive_batch_message).
  io::ByteWriter tail;
  tail.put(batch.totals.values());
  tail.put(batch.max_length);
  tail.put(batch.t_generate);
  tail.put(batch.t_score);
  tail.put(batch.weights_version);
  tail.put(batch.t_rollout_wait);
  tail.put(batch.t_weight_transfer);
  tail.put(batch.weight_bytes);
  // (Kept for the format of the batches checkpoints hold; the learner reads the flag before the
  // tail, from every rollout replica.)
  tail.put<uint8_t>(batch.rollout_stop_signal ? 1 : 0);
  tail.put(sampler.epoch());
  tail.put<uint64_t>(sampler.cursor());
  for (const auto* ids : {&easy.easy_prompts(), &easy.solved_this_epoch()}) {
    tail.put<uint64_t>(ids->size());
    for (const auto& id : *ids) tail.put(id);
  }
  for (int j = 0; j < roles_.learner_replicas; ++j) {
    std::vector<rl::GroupKey> keys;  // the kept groups this replica sent learner replica j
    for (size_t k = 0; k < batch.kept_keys.size(); ++k)
      if (batch.kept_learners[k] == j) keys.push_back(batch.kept_keys[k]);
    io::ByteWriter w;
    rl::write_keys(w, keys);
    w.put(batch.groups_sent_early);
    w.put<uint8_t>(batch.rollout_stop_signal ? 1 : 0);
    std::vector<uint8_t>& bytes = w.bytes();
    bytes.insert(bytes.end(), tail.bytes().begin(), tail.bytes().end());
    torch::Tensor payload = byte_tensor(bytes);
    for (int rank : learner_ranks_of(j))  // every learner rank of the replica needs the rollouts
      sending_.emplace_back(streams_->isend(payload, rank, kBatchTag), payload);
  }
  prune_sends();
}

void RlTrainer::send_group(const rl::GroupKey& key, const std::vector<rl::Rollout>& rollouts,
                           size_t first, size_t count, int learner) {
  const std::vector<rl::Rollout> group(rollouts.begin() + static_cast<std::ptrdiff_t>(first),
                                       rollouts.begin() + static_cast<std::ptrdiff_t>(first + count));
  torch::Tensor payload = byte_tensor(rl::encode_group(key, group));
  for (int rank : learner_ranks_of(learner))
    sending_.emplace_back(streams_->isend(payload, rank, kGroupTag), payload);
  prune_sends();
}

void RlTrainer::poll_groups() {
  for (int source : rollout_sources_)
    while (auto message = parallel::try_receive_bytes(streams_->mpi_comm(), source, kGroupTag))
      inbox_.file(message->data_ptr<uint8_t>(), static_cast<size_t>(message->numel()));
}

RlTrainer::BatchMessage RlTrainer::receive_batch_message() {
  ACERL_PROFILE_PHASE("acerl::receive_rollouts");
  const auto t0 = Clock::now();
  BatchMessage message;
  std::vector<rl::GroupKey> keys;  // every rollout replica's groups for this learner replica
  torch::Tensor first_end;         // the first rollout replica's step end
  size_t tail_at = 0;              // where its tail starts
  for (int source : rollout_sources_) {
    // Groups file themselves as they come, until the step's end; a rank sends its groups before
    // its step's end, and messages between two ranks arrive in order, so they are all here then.
    torch::Tensor end;
    while (!end.defined()) {
      int tag = -1;
      torch::Tensor bytes =
          parallel::receive_bytes(streams_->mpi_comm(), source, MPI_ANY_TAG, &tag, "groups");
      ACERL_CHECK(tag == kGroupTag || tag == kBatchTag, "a message with tag ", tag,
                  " from rollout rank ", source, " (expected groups and step ends)");
      if (tag == kGroupTag)
        inbox_.file(bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()));
      else
        end = bytes;
    }
    io::ByteReader r(end.data_ptr<uint8_t>(), static_cast<size_t>(end.numel()));
    for (const rl::GroupKey& key : rl::read_keys(r)) {
      ACERL_CHECK(inbox_.has(key), "the end of step ", key.step, " from rollout rank ", source,
                  " came before the group of ", key.name());
      keys.push_back(key);
    }
    message.groups_sent_early = r.get<double>();  // (already all-reduced in produce)
    message.rollout_stop_signal = r.get<uint8_t>() != 0 || message.rollout_stop_signal;
    if (!first_end.defined()) {
      first_end = end;
      tail_at = r.position();
    }
  }
  // The batch as one message (what decode_batch reads and a checkpoint keeps): the rollouts in
  // key order (the colocated replica's drawing order), then the rest of the step's end.
  std::sort(keys.begin(), keys.end());
  io::ByteWriter w;
  rl::write_rollouts(w, inbox_.take(keys));
  std::vector<uint8_t>& bytes = w.bytes();
  const uint8_t* end_bytes = first_end.data_ptr<uint8_t>();
  bytes.insert(bytes.end(), end_bytes + tail_at, end_bytes + first_end.numel());
  message.payload = byte_tensor(bytes);
  message.t_wait = seconds_since(t0);
  return message;
}

StepBatch RlTrainer::decode_batch(const BatchMessage& message, rl::PromptSampler& sampler,
                                  rl::EasyPromptFilter& easy) const {
  StepBatch batch(cfg_.rl.entropy_grid.values.size());
  batch.t_wait = message.t_wait;
  io::ByteReader r(message.payload.data_ptr<uint8_t>(),
                   static_cast<size_t>(message.payload.numel()));
  batch.kept = rl::read_rollouts(r);
  batch.totals.assign(r.get_vector<double>());
  batch.max_length = r.get<int64_t>();
  batch.t_generate = r.get<double>();
  batch.t_score = r.get<double>();
  batch.weights_version = r.get<int64_t>();
  batch.t_rollout_wait = r.get<double>();
  batch.t_weight_transfer = r.get<double>();
  batch.weight_bytes = r.get<double>();
  batch.groups_sent_early = message.groups_sent_early;
  r.get<uint8_t>();  // (the first rollout replica's stop signal: the message has all of theirs)
  batch.rollout_stop_signal = message.rollout_stop_signal;
  // The producer's prompt order and easy lists, mirrored so that a checkpoint holds them.
  const auto epoch = r.get<int64_t>();
  const auto cursor = r.get<uint64_t>();
  std::set<std::string> lists[2];
  for (auto& ids : lists) {
    const auto count = r.get<uint64_t>();
    for (uint64_t i = 0; i < count; ++i) ids.insert(r.get_string());
  }
  ACERL_CHECK(r.done(), "a rollout batch message has trailing bytes");
  sampler.restore(epoch, cursor);
  easy.restore(lists[0], lists[1]);
  return batch;
}

StepBatch RlTrainer::pop_ahead(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy) {
  StepBatch batch = decode_batch(ahead_.front(), sampler, easy);
  ahead_.pop_front();
  return batch;
}

StepBatch RlTrainer::next_batch(rl::PromptSampler& sampler, rl::EasyPromptFilter& easy) {
  return ahead_.empty() ? decode_batch(receive_batch_message(), sampler, easy)
                        : pop_ahead(sampler, easy);
}

void RlTrainer::pull_ahead(int64_t step) {
  // The rollout ranks generate these with weights the learner has already sent (step s uses
  // those after update s - 1 - k <= step - 1), so they come; the next one is due anyway.
  const int64_t want = std::min<int64_t>(cfg_.rl.max_lag, run_end_step_ - step);
  while (static_cast<int64_t>(ahead_.size()) < want) ahead_.push_back(receive_batch_message());
}

// The flat weights message in buckets of rl.weight_bucket_mb (the last one shorter): [start,
// length) ranges over the payload.
std::vector<std::pair<int64_t, int64_t>> weight_buckets(int64_t numel, int64_t element_bytes,
                                                        double bucket_mb) {
  const int64_t per = std::max<int64_t>(
      1, static_cast<int64_t>(bucket_mb * 1024 * 1024) / std::max<int64_t>(1, element_bytes));
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t start = 0; start < numel; start += per)
    out.emplace_back(start, std::min(per, numel - start));
  return out;
}

void RlTrainer::send_weights(int64_t version, WeightsFlag flag) {
  ACERL_PROFILE_PHASE("acerl::send_weights");
  if (weight_targets_.empty()) return;  // more learner than rollout replicas: not this one
  const auto t0 = Clock::now();
  torch::NoGradGuard no_grad;
  // This rank's parameters; gathered into a tp-1 rollout rank, a replicated one comes from the
  // first tp rank only.
  std::vector<torch::Tensor> flat;
  for (const auto& shard : model_->param_shards())
    if (sends(shard)) flat.push_back(shard.tensor.reshape({-1}));
  // A copy (the next update may not touch it), in the wire precision.
  torch::Tensor payload = torch::cat(flat).to(weight_dtype());
  torch::Tensor header = torch::tensor({version, static_cast<int64_t>(flag)}, torch::kInt64);
  const auto buckets =
      weight_buckets(payload.numel(), payload.element_size(), cfg_.rl.weight_bucket_mb);
  for (int target : weight_targets_) {
    sending_.emplace_back(group_->isend(header, target, kWeightsTag), header);
    for (auto [start, length] : buckets) {
      torch::Tensor bucket = payload.narrow(0, start, length);
      sending_.emplace_back(group_->isend(bucket, target, kWeightsTag), bucket);
    }
  }
  prune_sends();
  last_weight_sync_s_ = seconds_since(t0);
}

void RlTrainer::weight_layout() {
  torch::NoGradGuard no_grad;
  const std::vector<model::ParamShard> shards = model_->param_shards();
  const int L = roles_.learner_replicas, per_learner = roles_.learner_ranks;
  if (learner()) {
    if (!roles_.gather) return;
    io::ByteWriter w;
    std::vector<const model::ParamShard*> sent;
    for (const auto& p : shards)
      if (sends(p)) sent.push_back(&p);
    w.put<uint64_t>(sent.size());
    for (const model::ParamShard* p : sent) {
      w.put(p->name);
      w.put<int64_t>(p->split_dim);
      w.put<int64_t>(p->offset);
      w.put<int64_t>(p->split_dim >= 0 ? p->tensor.size(p->split_dim) : 0);
    }
    torch::Tensor manifest = byte_tensor(w.bytes());
    for (int i = roles_.replica; i < roles_.rollout_replicas; i += L)  // one rank each
      sending_.emplace_back(streams_->isend(manifest, roles_.learners + i, kManifestTag),
                            manifest);
    return;
  }
  if (!roles_.gather) {  // the mirrored learner rank sends every parameter, in order
    weight_pieces_.emplace_back();
    for (const auto& p : shards) weight_pieces_.back().push_back({p.tensor, p.tensor.numel()});
    return;
  }
  std::map<std::string, torch::Tensor> params;
  std::map<std::string, int64_t> covered;
  for (const auto& p : shards) params[p.name] = p.tensor;
  const int first = (roles_.replica % L) * per_learner;  // world rank of the learner replica
  for (int k = 0; k < per_learner; ++k) {
    const torch::Tensor bytes =
        parallel::receive_bytes(streams_->mpi_comm(), first + k, kManifestTag, nullptr, "groups");
    io::ByteReader r(bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()));
    std::vector<WeightPiece> pieces(r.get<uint64_t>());
    for (WeightPiece& piece : pieces) {
      const std::string name = r.get_string();
      const auto split_dim = r.get<int64_t>(), offset = r.get<int64_t>(),
                 length = r.get<int64_t>();
      auto at = params.find(name);
      ACERL_CHECK(at != params.end(), "learner rank ", first + k, " sends parameter ", name,
                  ", which the rollout model does not have");
      piece.target = split_dim >= 0 ? at->second.narrow(split_dim, offset, length) : at->second;
      piece.numel = piece.target.numel();
      covered[name] += piece.numel;
    }
    ACERL_CHECK(r.done(), "the weights manifest of learner rank ", first + k,
                " has trailing bytes");
    weight_pieces_.push_back(std::move(pieces));
  }
  for (const auto& [name, tensor] : params)
    ACERL_CHECK(covered[name] == tensor.numel(), "the learner replica's ranks send ",
                covered[name], " of the ", tensor.numel(), " elements of ", name);
}

WeightsFlag RlTrainer::receive_weights() {
  ACERL_PROFILE_PHASE("acerl::receive_weights");
  torch::NoGradGuard no_grad;
  auto wire = torch::TensorOptions().dtype(weight_dtype()).device(groups_->device());
  WeightsFlag flag = kContinue;
  std::vector<torch::Tensor> payloads;
  Clock::time_point arrived;  // the first header: from then on, transfer and unpacking
  for (size_t k = 0; k < learner_peers_.size(); ++k) {
    torch::Tensor header = torch::empty({2}, torch::kInt64);
    group_->recv(header, learner_peers_[k], kWeightsTag);
    if (k == 0) arrived = Clock::now();
    weights_version_ = header[0].item<int64_t>();
    flag = static_cast<WeightsFlag>(header[1].item<int64_t>());
    int64_t numel = 0;
    for (const WeightPiece& piece : weight_pieces_[k]) numel += piece.numel;
    torch::Tensor payload = torch::empty({numel}, wire);
    for (auto [start, length] :
         weight_buckets(numel, payload.element_size(), cfg_.rl.weight_bucket_mb)) {
      torch::Tensor bucket = payload.narrow(0, start, length);
      group_->recv(bucket, learner_peers_[k], kWeightsTag);
    }
    payloads.push_back(payload);
  }
  for (size_t k = 0; k < payloads.size(); ++k) {
    int64_t offset = 0;
    for (const WeightPiece& piece : weight_pieces_[k]) {  // bf16 on the wire: widened
      piece.target.copy_(payloads[k].narrow(0, offset, piece.numel).view(piece.target.sizes()));
      offset += piece.numel;
    }
  }
  for (const auto& payload : payloads)
    weight_bytes_ += static_cast<double>(payload.numel() * payload.element_size());
  weight_transfer_s_ += seconds_since(arrived);
  return flag;
}

void RlTrainer::prune_sends() {
  // Sends the other side has received need no buffer any more (testing also lets MPI progress).
  while (!sending_.empty() && sending_.front().first->test()) sending_.pop_front();
}

void RlTrainer::finish_sends() {
  for (auto& [request, buffer] : sending_) request->wait();
  sending_.clear();
}

int RlTrainer::finish_rollout(WeightsFlag flag) {
  while (flag == kContinue) flag = receive_weights();
  finish_sends();
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
      row.emplace_back("time_weight_sync", last_weight_sync_s_);  // the previous step's
      row.emplace_back("time_weight_transfer", batch.t_weight_transfer);
      row.emplace_back("weight_sync_bytes", batch.weight_bytes);
      row.emplace_back("groups_sent_early", batch.groups_sent_early);
      row.emplace_back("weight_sync_gbps", batch.t_weight_transfer > 0
                                                ? batch.weight_bytes / batch.t_weight_transfer / 1e9
                                                : 0.0);
    }
    for (size_t t = 0; t < kTypes.size(); ++t) {
      if (totals.type_count(t) == 0) continue;
      row.emplace_back("reward/" + kTypes[t], totals.type_reward(t) / totals.type_count(t));
      row.emplace_back("accuracy/" + kTypes[t], totals.type_correct(t) / totals.type_count(t));
      for (const auto& reason : kReasons.at(kTypes[t]))
        row.emplace_back("reasons/" + kTypes[t] + "/" + reason, totals.reason(kTypes[t], reason));
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
    for (size_t t = 0; t < kTypes.size(); ++t)
      if (totals.type_count(t) > 0)
        rewards += str(" | ", kTypes[t], " acc ", totals.type_correct(t) / totals.type_count(t));
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
  weights_version_ = start_version;
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
        while (weights_version_ < need) {
          const WeightsFlag flag = receive_weights();
          if (flag != kContinue) return finish_rollout(flag);
        }
        const double waited = seconds_since(t0);
        StepBatch batch = produce(stage, sampler, easy, state);
        batch.weights_version = weights_version_;
        batch.t_rollout_wait = waited - weight_transfer_s_;
        batch.t_weight_transfer = weight_transfer_s_;
        batch.weight_bytes = weight_bytes_;
        weight_transfer_s_ = weight_bytes_ = 0;
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
        send_batch(batch, sampler, easy);
        ++state.global_step;
        control_temperature(stage, batch.totals, state);  // the learner does the same
        continue;
      }
      // Colocated, every rank produces and consumes; split, the learner receives the batch.
      StepBatch batch =
          roles_.split ? next_batch(sampler, easy) : produce(stage, sampler, easy, state);
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
        send_weights(state.global_step, stop != RunControl::Stop::none ? kStop
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
