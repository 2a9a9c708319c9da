// defines: layout-independent HDF5 checkpoints. One file per checkpoint holds every parameter at
// its full Hugging Face shape under /model/<name>, the AdamW moments under
// /optimizer/exp_avg/<name> and /optimizer/exp_avg_sq/<name>, and as attributes the format
// version, the resolved config, the model's config.json and the job state (step, data cursor,
// anything the trainer adds) as JSON. All ranks write their own slices (hyperslabs) of one file
// through MPI-IO; any layout reads any checkpoint.
// Durability: a file is written as .step_N.h5.tmp, closed (checked), fsync'ed, renamed and its
// directory fsync'ed; only then is the `latest` pointer replaced the same way. Weights that are
// not finite are never written. Rotation keeps `keep` files and never deletes the file just
// written or the one `latest` names; prepare() moves checkpoints newer than the run's starting
// step into superseded/<time>/ instead of letting them be rotated away.
#pragma once

#include <string>

#include "io/json.h"
#include "model/qwen2.h"
#include "optim/adamw.h"
#include "parallel/process_groups.h"

namespace acerl::io {

constexpr int64_t kCheckpointFormat = 1;

struct CheckpointInfo {
  int64_t step = 0;
  json::Value state;         // trainer state: data cursor, counters, ...
  std::string config;        // resolved config of the run that wrote it
  std::string model_config;  // config.json text
  // Byte records kept per data-parallel replica, in order (the split layout keeps there the
  // batches its rollout ranks generated ahead of the checkpoint's step). Saving: every rank
  // passes its own replica's records, the same on every rank of the replica. Loading leaves it
  // empty: read_replica_records() reads one replica's.
  std::vector<std::vector<uint8_t>> replica_records;
};

// One replica's records of a checkpoint, and the replica count of the run that wrote them (0:
// the checkpoint has none).
struct ReplicaRecords {
  int64_t replicas = 0;
  std::vector<std::vector<uint8_t>> records;
};

class CheckpointManager {
 public:
  CheckpointManager(std::string dir, int64_t keep, const parallel::ProcessGroups& groups);

  // Collective over the world. `optimizer` may be null (weights only). Returns the file path.
  // Fails on every rank (CollectiveFailure, exit 1, one message) when a weight or moment is not
  // finite; throws Error naming the path when a write, close, fsync or rename fails.
  std::string save(model::Qwen2ForCausalLMImpl& model, optim::AdamW* optimizer,
                   const CheckpointInfo& info);
  // Collective; call once before the first save of a run that starts (or resumes) at
  // `start_step`: removes temporary files of dead runs, and moves checkpoints of steps after
  // `start_step` (they belong to a run being rolled back or restarted) into
  // dir/superseded/<UTC time>/, logging each, so rotation can never delete them; `latest` is
  // repointed to the checkpoint of `start_step` (or removed when there is none).
  void prepare(int64_t start_step);
  // The checkpoint `latest` names, or "" when the directory holds no checkpoint at all. A
  // missing, empty or dangling pointer next to step files is a UsageError naming the pointer.
  std::string latest() const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  int64_t keep_;
  const parallel::ProcessGroups& groups_;
};

// Collective over the world: writes one checkpoint file at `path` (no rename, no pointer).
void write_checkpoint(const std::string& path, model::Qwen2ForCausalLMImpl& model,
                      optim::AdamW* optimizer, const CheckpointInfo& info,
                      const parallel::ProcessGroups& groups);
// Collective over `groups`: reads this rank's slices (any layout wrote the file); restores the
// optimizer moments when `optimizer` is given and the file has them.
CheckpointInfo load_checkpoint(const std::string& path, model::Qwen2ForCausalLMImpl& model,
                               optim::AdamW* optimizer, const parallel::ProcessGroups& groups);
// Attributes only (no tensors), any rank, serial open.
CheckpointInfo read_checkpoint_info(const std::string& path);
// The records of data-parallel replica `replica` (/replica_records/<replica>/<k>), any rank,
// serial open.
ReplicaRecords read_replica_records(const std::string& path, int64_t replica);

// Test hook: when ACERL_FAULT_CHECKPOINT_DELAY_MS is set, save() sleeps that long after writing
// the model tensors, before the optimizer state, so a test can kill the job mid-checkpoint.
int64_t checkpoint_fault_delay_ms();

}  // namespace acerl::io
