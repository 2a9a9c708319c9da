// The step-range profiler; see profiler.h.
#include "train/profiler.h"

#include <torch/csrc/autograd/profiler_kineto.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <tuple>

#include "config/sections.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace acerl::train {

StepProfiler::StepProfiler(const std::string& steps, std::string path, bool cuda)
    : path_(std::move(path)), cuda_(cuda) {
  std::tie(first_, last_) = config::parse_step_range(steps);
}

StepProfiler::~StepProfiler() { end(last_); }

void StepProfiler::begin(int64_t step) {
  if (active_ || step < first_ || step > last_) return;
  namespace impl = torch::profiler::impl;
  std::set<impl::ActivityType> activities{impl::ActivityType::CPU};
  if (cuda_) activities.insert(impl::ActivityType::CUDA);
  // Without a GPU, Kineto's start-up still asks CUDA for devices and logs the failure as an
  // error; only warnings and worse are shown unless the user set the level.
  if (!cuda_) setenv("KINETO_LOG_LEVEL", "3", 0);
  const impl::ProfilerConfig config(impl::ProfilerState::KINETO);
  torch::autograd::profiler::prepareProfiler(config, activities);
  torch::autograd::profiler::enableProfiler(config, activities);
  active_ = true;
}

void StepProfiler::end(int64_t step) noexcept {
  if (step < last_) return;
  try {
    stop();
  } catch (const std::exception& e) {
    logr(str("warning: the profile ", path_, " could not be written: ", e.what()));
  }
}

void StepProfiler::stop() {
  if (!active_) return;
  active_ = false;
  auto result = torch::autograd::profiler::disableProfiler();
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  result->save(path_);
}

}  // namespace acerl::train
