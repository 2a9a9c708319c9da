// defines: SplitLink, the traffic of acerl rl's split layout (parallel.rollout_ranks) between
// its rollout and learner ranks:
//   rollout -> learner, on a duplicate of the world: each kept group as soon as it is scored,
//     then every step's end (the keys of the groups sent, the totals, the prompt order and easy
//     lists); the learner receives each message whole by a matched probe and files groups by
//     (step, round, slot), never by arrival order;
//   learner -> rollout, broadcast by each learner rank over its weight-sync communicator to
//     every rollout rank that takes its shard: every parameter after each update, flat, in
//     rl.weight_bucket_mb pieces, fp32 or bf16, with its version and a continue / stop / end
//     flag; mirrored onto a rollout replica of the learner's layout, or gathered from a learner
//     replica's tp x pp shards into a whole-model rollout rank (by a manifest each learner rank
//     sends at setup).
// train/rl_trainer runs the steps around it; job/setup decides the roles and communicators.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "config/config.h"
#include "job/setup.h"
#include "model/qwen2.h"
#include "parallel/communicator.h"
#include "parallel/process_groups.h"
#include "rl/filters.h"
#include "rl/group_stream.h"
#include "rl/prompt_sampler.h"
#include "train/rl_step.h"

namespace acerl::train {

// What a weights message says besides the weights.
enum WeightsFlag : int64_t { kContinue = 0, kStop = 1, kEnd = 2 };

// A step's batch as the learner keeps it (reassembled from the step ends of every rollout
// replica and their groups, in key order): its bytes, and how long the learner waited for it.
struct BatchMessage {
  torch::Tensor payload;  // uint8
  double t_wait = 0;
  double groups_sent_early = 0;  // (timing: not in the payload, which checkpoints keep)
  // A stop signal reached a rollout rank (not in the payload either: a checkpoint's batches
  // report none).
  bool rollout_stop_signal = false;
  // A batch a checkpoint holds (its payload).
  static BatchMessage from_record(const std::vector<uint8_t>& bytes);
};

// The message's batch (grid: the entropy grid's size); mirrors the producer's prompt order and
// easy lists into `sampler` and `easy`.
StepBatch decode_batch(const BatchMessage& message, size_t grid, rl::PromptSampler& sampler,
                       rl::EasyPromptFilter& easy);

// The weights' precision on the wire (rl.weight_sync_dtype).
torch::ScalarType weight_sync_dtype(const config::Config& cfg);

class SplitLink {
 public:
  // Collective over the learner and rollout ranks of the split (manifests exchanged, NCCL
  // started on the weight-sync communicators job::split_roles made): `roles`, `groups` and
  // `model` are this rank's and must outlive the link.
  SplitLink(const job::SplitRoles& roles, const config::Config& cfg,
            const parallel::ProcessGroups& groups, model::Qwen2ForCausalLM model);

  // ---- rollout rank ----
  // Rollout rank -> learner replica `learner` (non-blocking, the buffer kept until sent): one
  // group dynamic sampling keeps, from the scoring rank as soon as it is scored, from the
  // replica's other ranks when the round's rewards reach them. Slot s of a round goes to the
  // learner replica whose share of the round's prompts holds s, as in the colocated run.
  void send_group(const rl::GroupKey& key, const std::vector<rl::Rollout>& rollouts, size_t first,
                  size_t count, int learner);
  // Rollout rank -> every learner replica (non-blocking, the buffer kept until sent): the end of
  // a step, with the keys of the kept groups it sent that replica (the groups went ahead,
  // send_group), the totals and the stage's prompt order and easy lists after it, which
  // decode_batch() mirrors.
  void send_step_end(const StepBatch& batch, const rl::PromptSampler& sampler,
                     const rl::EasyPromptFilter& easy);
  // The next weights message into the model; its flag.
  WeightsFlag receive_weights();
  // Updates behind the weights this rank holds.
  int64_t weights_version() const { return weights_version_; }
  void set_weights_version(int64_t version) { weights_version_ = version; }
  // Receiving and unpacking weights since the last call (seconds), and their bytes; resets both.
  std::pair<double, double> take_transfer();

  // ---- learner rank ----
  // Files the group messages that have arrived (never waits).
  void poll_groups();
  // The next step's batch: waits for every rollout replica's step end (filing groups as they
  // come), then takes that step's groups in key order.
  BatchMessage receive_batch();
  // After every update (non-blocking broadcasts, the buffers kept until done): every parameter,
  // flat, in the wire precision, its version (updates done) and a flag, to this rank's rollout
  // ranks (learner replica j serves the rollout replicas i with i mod L = j; none: nothing to
  // do).
  void send_weights(int64_t version, WeightsFlag flag);
  // Packing and posting the last weights (seconds).
  double last_send_seconds() const { return last_send_s_; }

  // ---- both ----
  // Waits for all of this rank's posted sends (the other side receives them all).
  void finish_sends();

 private:
  // What a learner rank sends in a weights message, as the rollout rank places it.
  struct WeightPiece {
    torch::Tensor target;  // where it goes: a parameter, or its slice along a split dim
    int64_t numel = 0;
  };
  bool learner() const { return !roles_.rollout; }
  // Learner, gathered: whether this rank sends `shard` (a replicated one comes from tp rank 0).
  bool sends(const model::ParamShard& shard) const;
  // Rollout rank: the ranks of learner replica `j` it sends groups and step ends to: the one of
  // its own position, or, gathered into a tp-1 rollout rank, all of them.
  std::vector<int> learner_ranks_of(int j) const;
  // At setup: what each weights message holds. Mirrored: every parameter of the rank, in order.
  // Gathered: each learner rank sends its rollout replicas a manifest (name, split dim, offset
  // and length of each piece it sends: its tp slices, the replicated parameters from tp rank 0
  // only, of its pipeline stage), which the rollout rank maps onto its whole model by name,
  // checking that the pieces cover every parameter once.
  void weight_layout();
  // Drops the buffers of completed sends (testing also lets MPI progress).
  void prune_sends();

  const job::SplitRoles& roles_;
  const config::Config& cfg_;
  const parallel::ProcessGroups& groups_;
  model::Qwen2ForCausalLM model_;
  // Weight sync (job::SplitRoles::weights, the ones this rank is in, in position order): a
  // learner rank broadcasts its weights as rank 0 of its one communicator to the rollout ranks
  // that take its shard; a rollout rank receives from each of its communicators in turn (one
  // when mirrored, a learner replica's tp x pp when gathered). Groups and step ends travel on
  // streams_ (world ranks): a learner rank hears them from rollout_sources_ (one rank of every
  // rollout replica).
  std::vector<std::unique_ptr<parallel::Communicator>> weights_;
  std::unique_ptr<parallel::Communicator> streams_;
  std::vector<int> rollout_sources_;
  std::deque<std::pair<std::unique_ptr<parallel::CommRequest>, torch::Tensor>> sending_;
  rl::GroupInbox inbox_;  // learner: the groups received, filed by (step, round, slot)
  // Rollout rank: what the learner rank of each of weights_ sends in a weights message, in
  // order.
  std::vector<std::vector<WeightPiece>> weight_pieces_;
  int64_t weights_version_ = 0;
  double last_send_s_ = 0;
  double transfer_s_ = 0, transfer_bytes_ = 0;
};

}  // namespace acerl::train
