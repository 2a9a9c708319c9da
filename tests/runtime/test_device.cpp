// run.device: which GPU a rank takes, what auto/cpu/cuda resolve to on a build with or without
// CUDA and with 0, 1 or several visible GPUs, and the errors a user gets, checked by hand-worked
// cases; and the decision on this machine, checked against what LibTorch itself sees.
#include "support/catch.h"

#include <torch/torch.h>

#include <cstdlib>

#include "model/precision.h"
#include "runtime/device.h"
#include "runtime/error.h"

using namespace acerl;

namespace {

// Sets (or clears, for nullptr) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

}  // namespace

TEST_CASE("a rank takes the GPU of its node-local index, or the only one it sees", "[runtime]") {
  CHECK(pick_gpu(0, 4, 4) == 0);
  CHECK(pick_gpu(3, 4, 4) == 3);
  CHECK(pick_gpu(1, 2, 8) == 1);  // fewer ranks than GPUs: the first ones
  // srun --gpus-per-task=1 leaves each task one GPU (CUDA_VISIBLE_DEVICES): always index 0.
  CHECK(pick_gpu(3, 4, 1) == 0);
  CHECK_THROWS_AS(pick_gpu(0, 1, 0), UsageError);
  CHECK_THROWS_WITH(pick_gpu(2, 8, 4), Catch::Contains("8 ranks run on this node but only 4 GPUs") &&
                                           Catch::Contains("--ntasks-per-node=4"));
}

TEST_CASE("the launcher's node-local rank is read in order of precedence", "[runtime]") {
  ScopedEnv a("OMPI_COMM_WORLD_LOCAL_RANK", nullptr), b("SLURM_LOCALID", nullptr),
      c("PMI_LOCAL_RANK", nullptr), d("MPI_LOCALRANKID", nullptr);
  CHECK(launcher_local_rank() == -1);
  {
    ScopedEnv slurm("SLURM_LOCALID", "5");
    CHECK(launcher_local_rank() == 5);
    ScopedEnv ompi("OMPI_COMM_WORLD_LOCAL_RANK", "2");
    CHECK(launcher_local_rank() == 2);  // Open MPI's own word wins over Slurm's
  }
  ScopedEnv bad("SLURM_LOCALID", "x1");
  CHECK(launcher_local_rank() == -1);  // not a number: ignored
}

TEST_CASE("run.device resolves auto, cpu and cuda or says why not", "[runtime]") {
  // auto: cuda only with a CUDA build and a visible GPU.
  CHECK(decide_device("auto", false, 4, 0, 1).device.is_cpu());
  CHECK_THAT(decide_device("auto", false, 4, 0, 1).reason, Catch::Contains("built without CUDA"));
  CHECK(decide_device("auto", true, 0, 0, 1).device.is_cpu());
  CHECK_THAT(decide_device("auto", true, 0, 0, 1).reason, Catch::Contains("no CUDA device"));
  DeviceChoice gpu = decide_device("auto", true, 4, 2, 4);
  CHECK(gpu.device == torch::Device(torch::kCUDA, 2));
  CHECK_THAT(gpu.reason, Catch::Contains("cuda:2") && Catch::Contains("node-local rank 2 of 4"));
  // cpu is always possible; cuda is refused with what to do.
  CHECK(decide_device("cpu", true, 4, 0, 1).device.is_cpu());
  CHECK(decide_device("cuda", true, 1, 3, 4).device == torch::Device(torch::kCUDA, 0));
  CHECK_THROWS_WITH(decide_device("cuda", false, 0, 0, 1),
                    Catch::Contains("built without CUDA") && Catch::Contains("ACERL_WITH_CUDA=ON"));
  CHECK_THROWS_WITH(decide_device("cuda", true, 0, 0, 1), Catch::Contains("no CUDA device"));
  CHECK_THROWS_AS(decide_device("gpu", true, 1, 0, 1), UsageError);
}

TEST_CASE("this build and machine: the device acerl sees is the one LibTorch sees", "[runtime]") {
#if ACERL_WITH_CUDA
  CHECK(built_with_cuda());
  CHECK(visible_gpus() == static_cast<int>(torch::cuda::device_count()));
#else
  CHECK_FALSE(built_with_cuda());
  CHECK(visible_gpus() == 0);
#endif
  // On a machine without a GPU (the CI machine) auto is the CPU and the precision follows the CPU.
  if (visible_gpus() == 0) {
    CHECK(decide_device("auto", built_with_cuda(), visible_gpus(), 0, 1).device.is_cpu());
    CHECK(model::native_bf16(torch::kCPU) == model::cpu_has_native_bf16());
    CHECK(model::parse_precision("auto", torch::kCPU) ==
          (model::cpu_has_native_bf16() ? model::Precision::bf16 : model::Precision::fp32));
  }
}
