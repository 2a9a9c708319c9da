// defines: the compute device of a rank (run.device = auto | cpu | cuda) and how it is chosen:
// the one place that decides where the model, optimizer state, batches, KV cache, pipeline
// buffers, sampler and autocast live. Each rank takes the GPU of its node-local index, or the
// single GPU the batch system left visible to it (CUDA_VISIBLE_DEVICES per task).
#pragma once

#include <torch/torch.h>

#include <string>

#include "runtime/mpi_runtime.h"

namespace acerl {

// Which GPU (index among the visible ones) the rank with node-local index `local_rank` of
// `local_size` takes when `visible` GPUs are visible to it: the only one when the batch system
// gave each task its own (visible == 1), else local_rank. Throws UsageError when the node has
// more ranks than GPUs (NCCL cannot put two ranks of one communicator on one GPU) or none.
int pick_gpu(int local_rank, int local_size, int visible);

// The node-local rank the launcher announced (OMPI_COMM_WORLD_LOCAL_RANK, then SLURM_LOCALID,
// then PMI_LOCAL_RANK / MPI_LOCALRANKID), or -1 when none is set.
int launcher_local_rank();

struct DeviceChoice {
  torch::Device device{torch::kCPU};
  std::string reason;  // one line for the start-up log
};

// Whether this acerl was built with CUDA (ACERL_WITH_CUDA) and how many GPUs this process sees.
bool built_with_cuda();
int visible_gpus();

// The pure decision behind choose_device: `requested` is "auto" | "cpu" | "cuda"; throws
// UsageError naming run.device for a CUDA request that cannot be met.
DeviceChoice decide_device(const std::string& requested, bool cuda_built, int visible,
                           int local_rank, int local_size);

// Collective: decides every rank's device (the node-local rank from MPI, cross-checked against
// the launcher's), makes it the current CUDA device, and agrees on the device type over the
// world (all ranks compute alike: a job where some ranks would fall back to the CPU is refused).
DeviceChoice choose_device(const MpiRuntime& runtime, const std::string& requested);

// The name of a device for messages: "cpu" or "cuda:1 (NVIDIA H100 80GB HBM3, sm90)".
std::string describe_device(const torch::Device& device);
// The compute capability major * 10 + minor of a CUDA device (0 for the CPU).
int cuda_capability(const torch::Device& device);

}  // namespace acerl
