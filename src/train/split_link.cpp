// The split layout's messages between rollout and learner ranks; see split_link.h.
#include "train/split_link.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "io/bytes.h"
#include "parallel/messages.h"
#include "runtime/error.h"
#include "train/profiler.h"

namespace acerl::train {
namespace {

constexpr int kBatchTag = 41;     // rollout rank -> learner, a step's end
constexpr int kGroupTag = 43;     // rollout rank -> learner, one kept group
constexpr int kManifestTag = 44;  // gathered: learner -> rollout rank, what it sends

// Bytes as a uint8 tensor: what the messages travel and are kept as.
torch::Tensor byte_tensor(const std::vector<uint8_t>& bytes) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
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

}  // namespace

BatchMessage BatchMessage::from_record(const std::vector<uint8_t>& bytes) {
  BatchMessage message;
  message.payload = byte_tensor(bytes);
  return message;
}

torch::ScalarType weight_sync_dtype(const config::Config& cfg) {
  return cfg.rl.weight_sync_dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
}

SplitLink::SplitLink(const job::SplitRoles& roles, const config::Config& cfg,
                     const parallel::ProcessGroups& groups, model::Qwen2ForCausalLM model)
    : roles_(roles), cfg_(cfg), groups_(groups), model_(std::move(model)) {
  for (size_t k = 0; k < roles_.weights.size(); ++k) {
    if (roles_.weights[k] == MPI_COMM_NULL) continue;
    const std::string name = str("weights ", k);
    weights_.push_back(parallel::make_axis(roles_.weights[k], name.c_str(),
                                           {groups_.device(), cfg_.run.collective_timeout_s}));
  }
  streams_ = parallel::make_mpi_communicator(roles_.streams);
  const int per_rollout = roles_.gather ? 1 : roles_.learner_ranks;
  const int mirror = roles_.gather ? 0 : roles_.position;  // the rank of a rollout replica
  if (learner()) {
    for (int i = 0; i < roles_.rollout_replicas; ++i)
      rollout_sources_.push_back(roles_.learners + i * per_rollout + mirror);
  }
  weight_layout();
  if (groups_.device().is_cuda()) {  // NCCL starts now, on both sides, not at the first weights
    for (auto& comm : weights_) {    // (a gathered rollout rank: in position order)
      torch::Tensor probe = torch::zeros({1}, torch::TensorOptions().device(groups_.device()));
      comm->broadcast(probe, 0);
    }
  }
}

bool SplitLink::sends(const model::ParamShard& shard) const {
  return !roles_.gather || shard.split_dim >= 0 || groups_.tp().rank() == 0;
}

std::pair<double, double> SplitLink::take_transfer() {
  const std::pair<double, double> out{transfer_s_, transfer_bytes_};
  transfer_s_ = transfer_bytes_ = 0;
  return out;
}

std::vector<int> SplitLink::learner_ranks_of(int j) const {
  const int first = j * roles_.learner_ranks;
  if (!roles_.gather) return {first + roles_.position};
  std::vector<int> all;
  for (int t = 0; t < roles_.learner_ranks; ++t) all.push_back(first + t);
  return all;
}

void SplitLink::send_step_end(const StepBatch& batch, const rl::PromptSampler& sampler,
                              const rl::EasyPromptFilter& easy) {
  // The same for every learner replica: the rest as a batch message has it (see
  // receive_batch).
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

void SplitLink::send_group(const rl::GroupKey& key, const std::vector<rl::Rollout>& rollouts,
                           size_t first, size_t count, int learner) {
  const std::vector<rl::Rollout> group(
      rollouts.begin() + static_cast<std::ptrdiff_t>(first),
      rollouts.begin() + static_cast<std::ptrdiff_t>(first + count));
  torch::Tensor payload = byte_tensor(rl::encode_group(key, group));
  for (int rank : learner_ranks_of(learner))
    sending_.emplace_back(streams_->isend(payload, rank, kGroupTag), payload);
  prune_sends();
}

void SplitLink::poll_groups() {
  for (int source : rollout_sources_)
    while (auto message = parallel::try_receive_bytes(streams_->mpi_comm(), source, kGroupTag))
      inbox_.file(message->data_ptr<uint8_t>(), static_cast<size_t>(message->numel()));
}

BatchMessage SplitLink::receive_batch() {
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

StepBatch decode_batch(const BatchMessage& message, size_t grid, rl::PromptSampler& sampler,
                       rl::EasyPromptFilter& easy) {
  StepBatch batch(grid);
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

void SplitLink::send_weights(int64_t version, WeightsFlag flag) {
  ACERL_PROFILE_PHASE("acerl::send_weights");
  parallel::Communicator& comm = *weights_.front();  // a learner rank's one: rank 0 sends
  if (comm.size() == 1) return;  // more learner than rollout replicas: none to send to
  const auto t0 = Clock::now();
  torch::NoGradGuard no_grad;
  // This rank's parameters; gathered into a tp-1 rollout rank, a replicated one comes from the
  // first tp rank only.
  std::vector<torch::Tensor> flat;
  for (const auto& shard : model_->param_shards())
    if (sends(shard)) flat.push_back(shard.tensor.reshape({-1}));
  // A copy (the next update may not touch it), in the wire precision.
  torch::Tensor payload = torch::cat(flat).to(weight_sync_dtype(cfg_));
  torch::Tensor header = torch::tensor({version, static_cast<int64_t>(flag)}, torch::kInt64);
  const auto buckets =
      weight_buckets(payload.numel(), payload.element_size(), cfg_.rl.weight_bucket_mb);
  // One broadcast per piece to every rollout rank this rank serves (not one send each).
  sending_.emplace_back(comm.broadcast_async(header, 0), header);
  for (auto [start, length] : buckets) {
    torch::Tensor bucket = payload.narrow(0, start, length);
    sending_.emplace_back(comm.broadcast_async(bucket, 0), bucket);
  }
  prune_sends();
  last_send_s_ = seconds_since(t0);
}

void SplitLink::weight_layout() {
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
      sending_.emplace_back(streams_->isend(manifest, roles_.learners + i, kManifestTag), manifest);
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
      const auto split_dim = r.get<int64_t>(), offset = r.get<int64_t>(), length = r.get<int64_t>();
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
    ACERL_CHECK(covered[name] == tensor.numel(), "the learner replica's ranks send ", covered[name],
                " of the ", tensor.numel(), " elements of ", name);
}

WeightsFlag SplitLink::receive_weights() {
  ACERL_PROFILE_PHASE("acerl::receive_weights");
  torch::NoGradGuard no_grad;
  auto wire = torch::TensorOptions().dtype(weight_sync_dtype(cfg_)).device(groups_.device());
  WeightsFlag flag = kContinue;
  std::vector<torch::Tensor> payloads;
  Clock::time_point arrived;  // the first header: from then on, transfer and unpacking
  for (size_t k = 0; k < weights_.size(); ++k) {  // from learner rank 0 of each
    torch::Tensor header = torch::empty({2}, torch::kInt64);
    weights_[k]->broadcast_async(header, 0)->wait();  // (matches the root's non-blocking one)
    if (k == 0) arrived = Clock::now();
    weights_version_ = header[0].item<int64_t>();
    flag = static_cast<WeightsFlag>(header[1].item<int64_t>());
    int64_t numel = 0;
    for (const WeightPiece& piece : weight_pieces_[k]) numel += piece.numel;
    torch::Tensor payload = torch::empty({numel}, wire);
    for (auto [start, length] :
         weight_buckets(numel, payload.element_size(), cfg_.rl.weight_bucket_mb)) {
      torch::Tensor bucket = payload.narrow(0, start, length);
      weights_[k]->broadcast_async(bucket, 0)->wait();
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
    transfer_bytes_ += static_cast<double>(payload.numel() * payload.element_size());
  transfer_s_ += seconds_since(arrived);
  return flag;
}

void SplitLink::prune_sends() {
  // Sends the other side has received need no buffer any more (testing also lets MPI progress).
  while (!sending_.empty() && sending_.front().first->test()) sending_.pop_front();
}

void SplitLink::finish_sends() {
  for (auto& [request, buffer] : sending_) request->wait();
  sending_.clear();
}

}  // namespace acerl::train
