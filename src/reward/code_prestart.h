// defines: PrestartedInterpreter: one bubblewrap sandbox whose PID 1 is a Python interpreter that
// has already started and imported the usual modules (code_prestart_source in code_harness.h)
// and forks a fresh child for each run, so that a test costs a fork instead of bwrap plus an
// interpreter start-up. Sandbox (code_sandbox.h) keeps one per concurrent run when
// reward.code.prestart is on, and replaces one whenever a run left anything behind (a process,
// a file in /tmp), timed out, hit an output cap or broke the protocol: each run starts in a
// sandbox no earlier program has touched.
#pragma once

#include <memory>
#include <string>

#include "reward/code_process.h"

namespace acerl::reward {

struct PrestartedRun {
  ChildResult result;
  bool reusable = false;  // the sandbox is as it was before the run
};

class PrestartedInterpreter {
 public:
  // `spec` runs bwrap ... -- python -I -c code_prestart_source() with fd 3 = the control socket,
  // fd 4 = `info_write` (bwrap's --info-fd, read through `info_read`) and fd 5 = `seccomp` (the
  // filter's memfd, or -1 if bwrap gets none): spec.pass_fds and bwrap_info_fd are set here.
  // Waits up to `start_timeout_s` for the interpreter to report ready; throws acerl::Error when
  // it does not.
  PrestartedInterpreter(ChildSpec spec, UniqueFd info_read, UniqueFd info_write, UniqueFd seccomp,
                        double start_timeout_s);
  ~PrestartedInterpreter();
  PrestartedInterpreter(const PrestartedInterpreter&) = delete;
  PrestartedInterpreter& operator=(const PrestartedInterpreter&) = delete;

  // Runs `program` (harness mode "stdio" or "call") in a forked child under RLIMIT_AS =
  // `memory_bytes`, RLIMIT_CPU = `cpu_s` and the harness's NPROC cap, fed io.stdin_data, output
  // capped and the wall clock bounded as run_child does. Throws acerl::Error when the request
  // cannot be delivered (the interpreter is gone): the run may be retried on a new one. An
  // interpreter that ends during a run makes that run a failure (exit status -1), not reusable.
  PrestartedRun run(const std::string& program, const std::string& harness_mode, int nproc,
                    uint64_t memory_bytes, uint64_t cpu_s, const ChildIo& io);

 private:
  UniqueFd control_, info_read_;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace acerl::reward
