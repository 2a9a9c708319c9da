// defines: Sandbox: one sandboxed execution of a submitted Python program (bubblewrap namespaces
// + seccomp + rlimits + wall-clock timeout + output caps; or, only when the config allows the
// unsafe, the rlimit fallback: rlimits + seccomp + Landlock where the kernel has it), and
// SandboxRun, its classified outcome. Used by code_reward.cpp for every test case.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "reward/code_process.h"

namespace acerl::reward {

enum class SandboxMode { bwrap, rlimit };
const char* sandbox_mode_name(SandboxMode mode);

struct SandboxLimits {
  double timeout_s = 5;          // wall clock per run; RLIMIT_CPU = ceil(timeout_s) + 1
  int64_t memory_mb = 1024;      // RLIMIT_AS of every process of the run
  int64_t max_output_kb = 1024;  // stdout cap, and the same for stderr
  int max_processes = 16;        // RLIMIT_NPROC (processes + threads) inside the sandbox
};

struct SandboxRun {
  // "" when the program exited with status 0; else "runtime_error", "timeout", "memory" or
  // "output_limit".
  std::string failure;
  std::string out, err;  // at most the output cap each
  int exit_code = -1;
  int signal = 0;
  double seconds = 0;
};

class Sandbox {
 public:
  // `python`: absolute path of the interpreter. `mode`: "auto" (bubblewrap when it works here;
  // else the rlimit fallback when `allow_unsafe`, with a one-time warning, or a UsageError that
  // says how to get bubblewrap), "bwrap" (UsageError when it cannot run) or "rlimit" (UsageError
  // unless `allow_unsafe`). Whether bubblewrap works is probed once per process and interpreter.
  // `prestart` (bwrap mode only): runs fork from pre-started interpreters (code_prestart.h),
  // one per concurrent run, each replaced when a run leaves anything in it; where that does not
  // work here (probed once), a warning and one sandbox per run.
  Sandbox(std::string python, const std::string& mode, SandboxLimits limits,
          bool allow_unsafe = false, bool prestart = false);
  ~Sandbox();
  Sandbox(Sandbox&&) noexcept;

  SandboxMode mode() const { return mode_; }
  bool prestarted() const { return pool_ != nullptr; }
  // Ends the idle pre-started interpreters (the next run starts one); for tests that check
  // what a run leaves behind, and callers that want the memory back.
  void release_idle() const;
  const SandboxLimits& limits() const { return limits_; }
  const std::string& python() const { return python_; }

  // Runs `program` as main.py under the embedded harness (code_harness.h) in `harness_mode`
  // "stdio" or "call", feeding `stdin_data`. Thread-safe: any number of runs at once.
  SandboxRun run(const std::string& program, const std::string& harness_mode,
                 const std::string& stdin_data) const;

  // The command line of a bare `python -c pass`-style run in this mode without the harness, for
  // measuring the fixed cost of the sandbox (benchmarks).
  SandboxRun run_raw(const std::string& python_code) const;

 private:
  SandboxRun execute(const std::string& program, const std::vector<std::string>& python_args,
                     const std::string& stdin_data) const;
  SandboxRun execute_bwrap(const std::string& program, const std::vector<std::string>& python_args,
                           const std::string& stdin_data) const;
  SandboxRun execute_rlimit(const std::string& program, const std::vector<std::string>& python_args,
                            const std::string& stdin_data) const;
  SandboxRun execute_prestarted(const std::string& program, const std::string& harness_mode,
                                int nproc, const std::string& stdin_data) const;
  // bwrap ... -- python <python_args>: with `program_fd`, fd 3 becomes /tmp/main.py; else fd 3
  // is left to the caller (the pre-started interpreter's socket). fd 4 = bwrap's info pipe,
  // fd 5 = the seccomp filter.
  ChildSpec bwrap_spec(bool program_fd, const std::vector<std::string>& python_args) const;

  void start_prestart();  // the pool, probed with one run; a warning and none if that fails

  struct InterpreterPool;

  std::string python_;
  std::string bwrap_;
  SandboxMode mode_ = SandboxMode::rlimit;
  int landlock_abi_ = 0;  // rlimit mode: the Landlock ABI its runs are confined with; 0 = none
  SandboxLimits limits_;
  std::shared_ptr<InterpreterPool> pool_;  // prestart: the idle interpreters
};

}  // namespace acerl::reward
