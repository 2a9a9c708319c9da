// defines: DecodeGraphs, the CUDA graphs of one generate() call's fixed-slot decode steps, one
// per bucket (number of slots run). A bucket's first step runs once on a side stream (warm-up:
// lazy library state, and the step's real result), is captured, and every later step of that
// bucket is a replay of the capture. The graphs share one memory pool and live no longer than
// the call: they read the weights' autocast copies, which that call's autocast region owns.
// Built with CUDA only; elsewhere available() is false and run() is never called.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace acerl::rollout {

class DecodeGraphs {
 public:
  explicit DecodeGraphs(torch::Device device);
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  static bool available();  // this build has CUDA
  // Runs `step` (which must read and write only tensors that outlive this object, and never
  // synchronise with the host) for `bucket`: eagerly then captured the first time, replayed
  // after. Returns true for a replay, false for the capturing call.
  bool run(int64_t bucket, const std::function<void()>& step);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace acerl::rollout
