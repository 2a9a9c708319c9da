// defines: the job layer: how every command (sft, rl, eval, generate, tune-temperature, convert)
// gets its device, process grid, precision, tokenizer and model from [run], [parallel], [model]
// and [tokenizer]: the
// architecture from a Hugging Face directory, an acerl HDF5 checkpoint or a config.json to
// initialise; the layout checked against it (one message on every rank, no hang); the weights
// loaded as this rank's slices.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "model/precision.h"
#include "model/qwen2.h"
#include "parallel/process_groups.h"
#include "runtime/mpi_runtime.h"
#include "tokenizer/tokenizer.h"

namespace acerl::job {

// The architecture named by [model]: path (HF directory or acerl .h5 checkpoint) or init.
model::Qwen2Config model_architecture(const config::ModelConfig& model);
// Collective (inside MpiRuntime::agree): validates the layout against the model and the ranks
// of `grid` (MPI_COMM_NULL: the world), then builds the process grid over them for `device`
// (NCCL axes on a GPU).
std::unique_ptr<parallel::ProcessGroups> make_process_groups(
    const MpiRuntime& runtime, const config::Config& config,
    const model::Qwen2Config& architecture, const torch::Device& device = torch::kCPU,
    MPI_Comm grid = MPI_COMM_NULL);
// The model with its weights: loaded from model.path or initialised from (model.init, run.seed),
// on the job's device (groups.device()).
model::Qwen2ForCausalLM build_model(const config::Config& config,
                                    const model::Qwen2Config& architecture,
                                    const parallel::ProcessGroups& groups);
// What every model job resolves first, collectively (inside MpiRuntime::agree): the architecture,
// the device (run.device, logged), the process grid checked against it, the compute precision
// (model.precision; "auto" is bf16 only when every rank's device multiplies bf16 natively: a GPU
// of compute capability 8.0 or newer, or a CPU with AVX512-BF16/AMX; so all ranks compute
// alike), and the tokenizer (tokenizer.path, required), checked to fit the model's vocabulary.
struct JobBasics {
  model::Qwen2Config architecture;
  torch::Device device{torch::kCPU};
  std::unique_ptr<parallel::ProcessGroups> groups;
  model::Precision precision = model::Precision::fp32;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer;
};
JobBasics job_basics(const MpiRuntime& runtime, const config::Config& config,
                     MPI_Comm grid = MPI_COMM_NULL);

// acerl rl's split layout (parallel.rollout_ranks = R > 0): the first world - R ranks learn, in
// L learner replicas of tp x pp ranks; the last R generate and score, in rollout replicas, each
// in the learner's tp x pp layout (each rollout rank mirrors the learner rank of the same
// position) or, with parallel.rollout_tp = rollout_pp = 1, one rank holding the whole model.
// Any number of rollout replicas pairs with any number of learner replicas: learner replica j
// serves the rollout replicas i with i % L = j. Collective over the world: `side` is this rank's
// side; `weights[k]` (weight sync, one communicator per position k of a learner replica) holds
// learner rank k of replica j as its rank 0 and the rollout ranks that take that rank's shard
// (of the rollout replicas j serves: the rank at position k, or, gathered, their one rank), so a
// learner rank is in the one of its position, a mirrored rollout rank too, and a gathered one in
// all of them (MPI_COMM_NULL where a rank is not a member); `streams` (a duplicate of the world)
// carries the groups and step ends. UsageError, the same on every rank, listing the values that
// would fit, when R does not fit the world.
struct SplitRoles {
  bool split = false;    // rollout_ranks > 0
  bool rollout = false;  // this rank generates (else it learns)
  // rollout_tp = rollout_pp = 1 < tp x pp: the rollout rank gathers the learners' tp and pp
  // shards
  bool gather = false;
  int learner_ranks = 0;  // of one learner replica (tp x pp)
  int rollout_tp = 0, rollout_pp = 0;  // the rollout side's layout
  int learners = 0;       // learner ranks in all: world ranks [0, learners)
  int learner_replicas = 0, rollout_replicas = 0;
  int replica = 0;   // this rank's replica on its side
  int position = 0;  // this rank's place within its replica
  MPI_Comm side = MPI_COMM_NULL, streams = MPI_COMM_NULL;
  std::vector<MPI_Comm> weights;  // by learner position k (learner_ranks of them)
};
SplitRoles split_roles(const MpiRuntime& runtime, const config::Config& config);
std::vector<int64_t> parse_layers_per_stage(const std::string& text);
bool is_acerl_checkpoint(const std::string& path);

}  // namespace acerl::job
