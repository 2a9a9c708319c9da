// defines: ProcessGroups, the rank grid of a job (data x pipeline x tensor parallel) and one
// communicator per axis. Built once from [parallel] and passed by reference; no globals.
//
// Rank map: tensor-parallel ranks are adjacent (they talk most, so they share a node), then
// pipeline stages, then data-parallel replicas:
//     rank = dp_index * (pp * tp) + pp_index * tp + tp_index
// Worked example, 8 ranks with tp = 2, pp = 2, dp = 2:
//     rank:      0  1  2  3  4  5  6  7
//     dp_index:  0  0  0  0  1  1  1  1
//     pp_index:  0  0  1  1  0  0  1  1
//     tp_index:  0  1  0  1  0  1  0  1
// TP groups {0,1} {2,3} {4,5} {6,7}; PP groups {0,2} {1,3} {4,6} {5,7}; DP groups {0,4} {1,5}
// {2,6} {3,7}. Rank 2 holds the second half of the layers (stage 1) and the first half of
// each of their split weights (tp 0), for replica 0.
//
// Device: a CPU job's axes are MPI communicators. A CUDA job's axes are AxisCommunicators: NCCL
// for the tensors on the GPU (activations, gradients, logit statistics) and MPI for CPU scalars.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>

#include "parallel/communicator.h"

namespace acerl::parallel {

struct Layout {
  int tp = 1;
  int pp = 1;
  int dp = 1;
  int world() const { return tp * pp * dp; }
};

// What the model must let a layout divide (from the model's config).
struct ModelShape {
  int64_t n_head = 1, n_head_kv = 1, vocab = 1, n_layer = 1, ffn = 1;
};

// Empty when `layout` fits `world_size` ranks and `shape`; else one message saying what is
// wrong and which values would fit. dp = 0 in `requested` means "the rest of the world".
std::string layout_problem(int world_size, Layout requested, const ModelShape& shape);
// Resolves dp = 0 to world_size / (tp * pp).
Layout resolve_layout(int world_size, Layout requested);

// Where the job computes (runtime/device.h decides) and how long an NCCL operation may take
// before the job is aborted (run.collective_timeout_s).
struct DeviceOptions {
  torch::Device device{torch::kCPU};
  double timeout_s = 1800;
};

// One axis over `comm` (which it owns): MPI alone for a CPU job; for a GPU job MPI for host
// tensors plus NCCL (on its own duplicate of the communicator) for device tensors when the axis
// has peers. ProcessGroups builds its axes with it; acerl rl's weight sync uses it too.
std::unique_ptr<Communicator> make_axis(MPI_Comm comm, const char* name,
                                        const DeviceOptions& device);

class ProcessGroups {
 public:
  // Collective over `world`: splits it into the three axes. Throws UsageError when the layout
  // does not multiply to the world size.
  ProcessGroups(MPI_Comm world, Layout layout, DeviceOptions device = {});
  // One process, no MPI: every axis has size 1, computing on `device`.
  static std::unique_ptr<ProcessGroups> single(torch::Device device = torch::kCPU);

  const Layout& layout() const { return layout_; }
  // The compute device of this rank: the model, batches, caches and pipeline buffers live there.
  const torch::Device& device() const { return device_.device; }
  int rank() const { return rank_; }
  int world_size() const { return layout_.world(); }
  int tp_rank() const { return tp_->rank(); }
  int pp_rank() const { return pp_->rank(); }
  int dp_rank() const { return dp_->rank(); }
  Communicator& tp() const { return *tp_; }
  Communicator& pp() const { return *pp_; }
  Communicator& dp() const { return *dp_; }
  Communicator& world() const { return *world_; }
  // All ranks of this data-parallel replica (its tp x pp model-parallel group).
  Communicator& replica() const { return *replica_; }
  bool first_stage() const { return pp_->rank() == 0; }
  bool last_stage() const { return pp_->rank() == pp_->size() - 1; }
  // The world rank of the given (dp, pp, tp) coordinates.
  int rank_of(int dp_index, int pp_index, int tp_index) const;

 private:
  ProcessGroups() = default;
  Layout layout_;
  DeviceOptions device_;
  int rank_ = 0;
  std::unique_ptr<Communicator> world_, tp_, pp_, dp_, replica_;
};

}  // namespace acerl::parallel
