// defines: StepProfiler, the LibTorch (Kineto) profiler over a range of training steps
// (run.profile_steps): each rank records the operators it runs during those steps, inside named
// phases (PROFILE_PHASE: acerl::generate, acerl::learn, ...), and writes them as a Chrome trace
// (chrome://tracing, Perfetto); tools/profile_table.py turns the traces into a table op by op.
#pragma once

#include <ATen/record_function.h>

#include <cstdint>
#include <string>

namespace acerl::train {

// A named phase of a step in the profile (no cost when the profiler is off).
#define ACERL_PROFILE_PHASE(name) RECORD_USER_SCOPE(name)

class StepProfiler {
 public:
  // `steps` as run.profile_steps gives it (config::parse_step_range); the trace goes to `path`. `cuda` adds the GPU's
  // kernels to the CPU operators.
  StepProfiler(const std::string& steps, std::string path, bool cuda);
  ~StepProfiler();  // a range cut short (a stop, an error) is still written
  StepProfiler(const StepProfiler&) = delete;
  StepProfiler& operator=(const StepProfiler&) = delete;

  // Around step `step` (1-based): the profiler starts before the range's first step and is
  // written after its last.
  void begin(int64_t step);
  void end(int64_t step) noexcept;  // a trace that cannot be written is a warning

 private:
  void stop();
  int64_t first_ = 1, last_ = 0;
  std::string path_;
  bool cuda_ = false, active_ = false;
};

// begin(step) now, end(step) when the scope is left, however it is left.
class ProfiledStep {
 public:
  ProfiledStep(StepProfiler& profiler, int64_t step) : profiler_(profiler), step_(step) {
    profiler_.begin(step_);
  }
  ~ProfiledStep() { profiler_.end(step_); }
  ProfiledStep(const ProfiledStep&) = delete;
  ProfiledStep& operator=(const ProfiledStep&) = delete;

 private:
  StepProfiler& profiler_;
  int64_t step_;
};

}  // namespace acerl::train
