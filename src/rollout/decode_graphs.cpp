// CUDA graphs of the fixed-slot decode step; see decode_graphs.h.
#include "rollout/decode_graphs.h"

#include <map>

#include "runtime/error.h"

#if ACERL_WITH_CUDA
#include <c10/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace acerl::rollout {

#if ACERL_WITH_CUDA

struct DecodeGraphs::Impl {
  explicit Impl(torch::Device d) : device(d) {}
  torch::Device device;
  c10::MempoolId_t pool = at::cuda::graph_pool_handle();
  std::map<int64_t, std::unique_ptr<at::cuda::CUDAGraph>> graphs;
};

DecodeGraphs::DecodeGraphs(torch::Device device) : impl_(std::make_unique<Impl>(device)) {
  ACERL_CHECK(device.is_cuda(), "CUDA graphs need a CUDA device, not ", device.str());
}

DecodeGraphs::~DecodeGraphs() = default;

bool DecodeGraphs::available() { return true; }

bool DecodeGraphs::run(int64_t bucket, const std::function<void()>& step) {
  auto found = impl_->graphs.find(bucket);
  if (found != impl_->graphs.end()) {
    found->second->replay();  // on the current stream
    return true;
  }
  // Capture needs a stream other than the default one. The side stream starts after what is
  // queued on the current stream and the current stream resumes after the side stream's work.
  c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(impl_->device.index());
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, impl_->device.index());
  c10::cuda::CUDAEvent queued, done;
  queued.record(current);
  queued.block(side);
  auto graph = std::make_unique<at::cuda::CUDAGraph>();
  {
    c10::cuda::CUDAStreamGuard guard(side);
    step();  // warm-up, and this step's result
    // Thread-local mode: other threads' CUDA calls (the NCCL monitor) do not break the capture.
    graph->capture_begin(impl_->pool, cudaStreamCaptureModeThreadLocal);
    step();
    graph->capture_end();
  }
  done.record(side);
  done.block(current);
  impl_->graphs.emplace(bucket, std::move(graph));
  return false;
}

#else

struct DecodeGraphs::Impl {};

DecodeGraphs::DecodeGraphs(torch::Device device) {
  ACERL_CHECK(false, "CUDA graphs need a build with CUDA (device ", device.str(), ")");
}

DecodeGraphs::~DecodeGraphs() = default;

bool DecodeGraphs::available() { return false; }

bool DecodeGraphs::run(int64_t, const std::function<void()>&) {
  ACERL_CHECK(false, "CUDA graphs need a build with CUDA");
  return false;
}

#endif

}  // namespace acerl::rollout
