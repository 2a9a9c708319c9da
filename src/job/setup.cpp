// Device, process grid, precision, tokenizer and model of a job; see setup.h.
#include "job/setup.h"

#include <filesystem>
#include <sstream>

#include "io/checkpoint.h"
#include "model/qwen2_weights.h"
#include "runtime/device.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/mpi_check.h"

namespace acerl::job {

bool is_acerl_checkpoint(const std::string& path) {
  return path.size() > 3 && path.compare(path.size() - 3, 3, ".h5") == 0;
}

std::vector<int64_t> parse_layers_per_stage(const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      out.push_back(std::stoll(item));
    } catch (const std::exception&) {
      throw UsageError(
          str("model.layers_per_stage = '", text, "': expected comma-separated integers"));
    }
  }
  return out;
}

model::Qwen2Config model_architecture(const config::ModelConfig& model) {
  if (!model.path.empty()) {
    ACERL_USAGE_CHECK(
        std::filesystem::exists(model.path), "model.path = '", model.path,
        "': no such file or directory (an HF checkpoint directory or an acerl .h5 checkpoint)");
    if (is_acerl_checkpoint(model.path)) {
      io::CheckpointInfo info = io::read_checkpoint_info(model.path);
      return model::Qwen2Config::from_json(
          json::parse(info.model_config, model.path + " (model_config)"), model.path);
    }
    return model::Qwen2Config::from_file(model.path);
  }
  ACERL_USAGE_CHECK(!model.init.empty(),
                    "set model.path (a checkpoint to start from) or model.init (a config.json "
                    "to initialise randomly)");
  return model::Qwen2Config::from_file(model.init);
}

std::unique_ptr<parallel::ProcessGroups> make_process_groups(const MpiRuntime& runtime,
                                                             const config::Config& config,
                                                             const model::Qwen2Config& a,
                                                             const torch::Device& device,
                                                             MPI_Comm grid) {
  if (grid == MPI_COMM_NULL) grid = runtime.world();
  int ranks = 0;
  check_mpi(MPI_Comm_size(grid, &ranks), "MPI_Comm_size", grid);
  parallel::Layout layout{config.parallel.tp, config.parallel.pp, config.parallel.dp};
  parallel::ModelShape shape{a.n_head, a.n_head_kv, a.vocab_size, a.n_layer, a.intermediate_size};
  if (!config.model.layers_per_stage.empty())
    shape.n_layer = layout.pp;  // an explicit partition decides
  std::string problem = parallel::layout_problem(ranks, layout, shape);
  ACERL_USAGE_CHECK(problem.empty(), problem);
  return std::make_unique<parallel::ProcessGroups>(
      grid, layout, parallel::DeviceOptions{device, config.run.collective_timeout_s});
}

JobBasics job_basics(const MpiRuntime& runtime, const config::Config& config, MPI_Comm grid) {
  ACERL_USAGE_CHECK(!config.tokenizer.path.empty(),
                    "missing required key 'tokenizer.path' (a tokenizer.json)");
  JobBasics out;
  out.architecture = model_architecture(config.model);
  DeviceChoice device = choose_device(runtime, config.run.device);
  out.device = device.device;
  log0(device.reason);
  out.groups = make_process_groups(runtime, config, out.architecture, out.device, grid);
  out.precision = model::parse_precision(config.model.precision, out.device);
  if (config.model.precision == "auto") {
    int native = out.precision == model::Precision::bf16 ? 1 : 0, everywhere = 0;
    check_mpi(MPI_Allreduce(&native, &everywhere, 1, MPI_INT, MPI_MIN, runtime.world()),
              "MPI_Allreduce (precision)", runtime.world());
    out.precision = everywhere ? model::Precision::bf16 : model::Precision::fp32;
    if (out.device.is_cuda()) {
      log0(everywhere ? "model.precision = auto: bf16 (every rank's GPU is sm80 or newer)"
                      : "model.precision = auto: fp32 (a rank's GPU is older than sm80)");
    } else {
      log0(everywhere ? "model.precision = auto: bf16 (every rank's CPU multiplies bf16 natively)"
                      : "model.precision = auto: fp32 (a rank's CPU lacks native bf16 matmuls, "
                        "AVX512-BF16 or AMX; emulated bf16 would be ~40x slower)");
    }
  }
  if (config.rollout.decode == "graphs") {
    const char* why = !out.device.is_cuda()                              ? "the device is not a GPU"
                      : out.groups->tp().size() * out.groups->pp().size() > 1 ? "tp or pp > 1"
                                                                         : nullptr;
    if (why) log0(str("rollout.decode = graphs: decode steps run as slots (", why, ")"));
  }
  out.tokenizer = std::make_unique<tokenizer::Tokenizer>(
      tokenizer::Tokenizer::from_file(config.tokenizer.path));
  ACERL_USAGE_CHECK(out.tokenizer->vocab_size() <= out.architecture.vocab_size,
                    "tokenizer.path = '", config.tokenizer.path, "' has ",
                    out.tokenizer->vocab_size(), " tokens but the model's vocab_size is ",
                    out.architecture.vocab_size);
  return out;
}

SplitRoles split_roles(const MpiRuntime& runtime, const config::Config& config) {
  SplitRoles roles;
  const int rollout_ranks = config.parallel.rollout_ranks, world = runtime.size();
  if (rollout_ranks == 0) return roles;
  const int tp = config.parallel.tp, pp = config.parallel.pp;
  const int rollout_tp = config.parallel.rollout_tp > 0 ? config.parallel.rollout_tp : tp;
  const int rollout_pp = config.parallel.rollout_pp > 0 ? config.parallel.rollout_pp : pp;
  ACERL_USAGE_CHECK((rollout_tp == tp && rollout_pp == pp) || (rollout_tp == 1 && rollout_pp == 1),
                    "parallel.rollout_tp = ", rollout_tp, ", rollout_pp = ", rollout_pp,
                    " (0 = the learner's) with tp = ", tp, ", pp = ", pp,
                    ": the rollout replicas take the learner's layout (rollout_tp = 0 or ", tp,
                    ", rollout_pp = 0 or ", pp,
                    "), or are one rank each holding the whole model (rollout_tp = 1 and "
                    "rollout_pp = 1)");
  const int learners = world - rollout_ranks;
  const int per_learner = tp * pp, per_rollout = rollout_tp * rollout_pp;
  auto fits = [&](int r) {
    return r > 0 && r < world && r % per_rollout == 0 && (world - r) % per_learner == 0;
  };
  if (!fits(rollout_ranks)) {
    std::string valid;  // the first few values that fit
    int listed = 0;
    for (int r = 1; r < world; ++r) {
      if (!fits(r)) continue;
      if (++listed > 8) {
        valid += ", ...";
        break;
      }
      valid += (valid.empty() ? "" : ", ") + std::to_string(r);
    }
    throw UsageError(str(
        "parallel.rollout_ranks = ", rollout_ranks, " does not fit ", world,
        " ranks: the rollout ranks form replicas of rollout_tp x rollout_pp = ", per_rollout,
        " ranks and the other ranks learner replicas of tp x pp = ", per_learner,
        " ranks, at least one of each; ",
        valid.empty() ? str("no value fits ", world, " ranks")
                      : str("on ", world, " ranks rollout_ranks can be ", valid),
        " (or 0 for every rank to generate and learn)"));
  }
  roles.split = true;
  roles.rollout = runtime.rank() >= learners;
  roles.gather = per_rollout != per_learner;
  roles.learner_ranks = per_learner;
  roles.rollout_tp = rollout_tp;
  roles.rollout_pp = rollout_pp;
  roles.learners = learners;
  roles.learner_replicas = learners / per_learner;
  roles.rollout_replicas = rollout_ranks / per_rollout;
  const int side_rank = roles.rollout ? runtime.rank() - learners : runtime.rank();
  const int per_replica = roles.rollout ? per_rollout : per_learner;
  roles.replica = side_rank / per_replica;
  roles.position = side_rank % per_replica;
  check_mpi(MPI_Comm_split(runtime.world(), roles.rollout ? 1 : 0, side_rank, &roles.side),
            "MPI_Comm_split (rl sides)", runtime.world());
  // Weight sync of position k: learner rank k of replica j (rank 0) and the rollout ranks of
  // replicas i with i % L = j that take its shard.
  const int weights_group = roles.rollout ? roles.replica % roles.learner_replicas : roles.replica;
  for (int k = 0; k < per_learner; ++k) {
    const bool member = roles.position == k || (roles.rollout && roles.gather);
    MPI_Comm comm = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split(runtime.world(), member ? weights_group : MPI_UNDEFINED,
                             roles.rollout ? 1 + runtime.rank() : 0, &comm),
              "MPI_Comm_split (weight-sync groups)", runtime.world());
    if (comm != MPI_COMM_NULL)  // "weights 0", ...: a timeout names the learner position
      check_mpi(MPI_Comm_set_name(comm, str("weights ", k).c_str()), "MPI_Comm_set_name", comm);
    roles.weights.push_back(comm);
  }
  check_mpi(MPI_Comm_dup(runtime.world(), &roles.streams), "MPI_Comm_dup (group streams)",
            runtime.world());
  check_mpi(MPI_Comm_set_name(roles.side, roles.rollout ? "rollout" : "learner"),
            "MPI_Comm_set_name", roles.side);
  check_mpi(MPI_Comm_set_name(roles.streams, "groups"), "MPI_Comm_set_name", roles.streams);
  return roles;
}

model::Qwen2ForCausalLM build_model(const config::Config& config,
                                    const model::Qwen2Config& architecture,
                                    const parallel::ProcessGroups& groups) {
  model::Qwen2ForCausalLM m(architecture, groups,
                            parse_layers_per_stage(config.model.layers_per_stage));
  m->to(groups.device());
  const std::string& path = config.model.path;
  if (path.empty()) {
    model::init_parameters(*m, static_cast<uint64_t>(config.run.seed));
  } else if (is_acerl_checkpoint(path)) {
    io::load_checkpoint(path, *m, nullptr, groups);
  } else {
    model::load_weights(*m, io::SafetensorsReader(path));
  }
  return m;
}

}  // namespace acerl::job
