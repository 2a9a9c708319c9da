// The compute device of a rank; see device.h.
#include "runtime/device.h"

#include <cstdlib>

#include "runtime/error.h"
#include "runtime/mpi_check.h"

#if ACERL_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

namespace acerl {

int pick_gpu(int local_rank, int local_size, int visible) {
  ACERL_USAGE_CHECK(visible >= 1, "run.device = cuda: no CUDA device is visible to this rank");
  if (visible == 1) return 0;  // the batch system gave this task its own GPU
  ACERL_USAGE_CHECK(local_size <= visible, "run.device = cuda: ", local_size,
                    " ranks run on this node but only ", visible,
                    " GPUs are visible; start at most one rank per GPU (srun --ntasks-per-node=",
                    visible, ", or --gpus-per-task=1)");
  return local_rank;
}

int launcher_local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "PMI_LOCAL_RANK",
                           "MPI_LOCALRANKID"}) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') continue;
    char* end = nullptr;
    long rank = std::strtol(value, &end, 10);
    if (*end == '\0' && rank >= 0) return static_cast<int>(rank);
  }
  return -1;
}

bool built_with_cuda() {
#if ACERL_WITH_CUDA
  return true;
#else
  return false;
#endif
}

int visible_gpus() {
#if ACERL_WITH_CUDA
  return static_cast<int>(torch::cuda::device_count());
#else
  return 0;
#endif
}

DeviceChoice decide_device(const std::string& requested, bool cuda_built, int visible,
                           int local_rank, int local_size) {
  ACERL_USAGE_CHECK(requested == "auto" || requested == "cpu" || requested == "cuda",
                    "run.device = '", requested, "' is not one of auto, cpu, cuda");
  DeviceChoice choice;
  if (requested == "cpu") {
    choice.reason = "run.device = cpu";
    return choice;
  }
  if (requested == "auto" && !cuda_built) {
    choice.reason = "run.device = auto: cpu (this acerl was built without CUDA)";
    return choice;
  }
  if (requested == "auto" && visible == 0) {
    choice.reason = "run.device = auto: cpu (no CUDA device is visible)";
    return choice;
  }
  ACERL_USAGE_CHECK(cuda_built,
                    "run.device = cuda, but this acerl was built without CUDA; rebuild with "
                    "-DACERL_WITH_CUDA=ON -DACERL_WITH_NCCL=ON (Spack: acerl+cuda+nccl), or set "
                    "run.device = cpu");
  const int index = pick_gpu(local_rank, local_size, visible);
  choice.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  choice.reason = str("run.device = ", requested, ": cuda:", index, " (node-local rank ",
                      local_rank, " of ", local_size, ", ", visible, " GPUs visible)");
  return choice;
}

namespace {

// Throws on every rank when `problem` is non-empty on any: the lowest such rank's message, so no
// rank goes on into a collective that a failed rank will never join.
void agree_on_problem(const MpiRuntime& runtime, const std::string& problem) {
  const int size = runtime.size();
  int mine = problem.empty() ? size : runtime.rank(), first = size;
  check_mpi(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, runtime.world()),
            "MPI_Allreduce (device)", runtime.world());
  if (first == size) return;
  int length = static_cast<int>(problem.size());
  check_mpi(MPI_Bcast(&length, 1, MPI_INT, first, runtime.world()), "MPI_Bcast (device)",
            runtime.world());
  std::string message = problem;
  message.resize(static_cast<size_t>(length));
  check_mpi(MPI_Bcast(message.data(), length, MPI_CHAR, first, runtime.world()),
            "MPI_Bcast (device)", runtime.world());
  throw UsageError(size > 1 ? str("rank ", first, ": ", message) : message);
}

}  // namespace

DeviceChoice choose_device(const MpiRuntime& runtime, const std::string& requested) {
  DeviceChoice choice;
  std::string problem;
  try {
    choice = decide_device(requested, built_with_cuda(), visible_gpus(), runtime.local_rank(),
                           runtime.local_size());
    // MPI's node split decides; a launcher that says otherwise would put two ranks on one GPU.
    const int announced = launcher_local_rank();
    if (choice.device.is_cuda() && announced >= 0 && announced != runtime.local_rank())
      problem = str("the launcher says this rank is node-local rank ", announced,
                    " but MPI places it at ", runtime.local_rank(), " of ", runtime.local_size(),
                    "; check the srun/mpirun binding");
  } catch (const UsageError& e) {
    problem = e.what();
  }
  agree_on_problem(runtime, problem);
  int cuda = choice.device.is_cuda() ? 1 : 0, everywhere = 0, anywhere = 0;
  check_mpi(MPI_Allreduce(&cuda, &everywhere, 1, MPI_INT, MPI_MIN, runtime.world()),
            "MPI_Allreduce (device)", runtime.world());
  check_mpi(MPI_Allreduce(&cuda, &anywhere, 1, MPI_INT, MPI_MAX, runtime.world()),
            "MPI_Allreduce (device)", runtime.world());
  ACERL_USAGE_CHECK(everywhere == anywhere,
                    "run.device = auto chose cuda on some ranks and cpu on others (a node without "
                    "a visible GPU?); set run.device = cuda or cpu for the whole job");
#if ACERL_WITH_CUDA
  if (choice.device.is_cuda()) c10::cuda::set_device(choice.device.index());
#endif
  if (choice.device.is_cuda()) choice.reason += ", " + describe_device(choice.device);
  return choice;
}

int cuda_capability(const torch::Device& device) {
#if ACERL_WITH_CUDA
  if (device.is_cuda()) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(device.index());
    return p->major * 10 + p->minor;
  }
#endif
  (void)device;
  return 0;
}

std::string describe_device(const torch::Device& device) {
#if ACERL_WITH_CUDA
  if (device.is_cuda()) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(device.index());
    return str(device.str(), " (", p->name, ", sm", p->major, p->minor, ", ",
               p->totalGlobalMem >> 30, " GiB)");
  }
#endif
  return device.str();
}

}  // namespace acerl
