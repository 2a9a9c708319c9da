// defines: run_child: one child process under resource limits, from any thread of a
// multi-threaded (MPI, LibTorch) process: vfork-style start, stdin fed and stdout/stderr read
// through poll with size caps, a wall-clock deadline that kills the whole process tree, and the
// child always reaped. The mechanism under code_sandbox.h, which decides what to run.
#pragma once

#include <linux/filter.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace acerl::reward {

// Owns a file descriptor (closed on destruction).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(o.release());
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct ChildLimit {
  int resource;    // RLIMIT_*
  uint64_t value;  // soft = hard, so the program cannot raise it
};

struct ChildSpec {
  std::vector<std::string> argv;  // argv[0] is the executable's absolute path
  std::vector<std::string> env;   // the complete environment, "KEY=value"
  std::string cwd;                // working directory; empty keeps the caller's
  std::vector<ChildLimit> limits;
  // When the caller is root: become uid/gid 65534 (nobody, no supplementary groups) before exec,
  // so rlimits bind (root is exempt from RLIMIT_NPROC) and the caller's files are not the
  // program's files. Ignored for other callers, who cannot change identity.
  bool drop_root = false;
  // A Landlock ruleset (code_landlock.h) the child restricts itself to, or -1. Applied with
  // no_new_privs, before the descriptors are closed; stays the caller's to close.
  int landlock_ruleset_fd = -1;
  // A seccomp filter (code_seccomp.h) the child installs as its last step before exec, or null.
  // Not for a child that must itself create namespaces (bwrap loads its filter itself).
  const std::vector<struct sock_filter>* seccomp_filter = nullptr;
  // These descriptors become fds 3, 4, ... in the child, in order; every other fd of the caller
  // is closed there. They stay the caller's to close.
  std::vector<int> pass_fds;
  // Read end of a pipe whose write end was passed as bwrap's --info-fd, or -1. bwrap reports the
  // PID of the sandbox's PID 1 there; killing that process (rather than bwrap) takes down the
  // sandbox's whole PID namespace while bwrap stays alive to reap it. It stays the caller's to
  // close, like pass_fds.
  int bwrap_info_fd = -1;
};

struct ChildIo {
  std::string stdin_data;  // written to the child's stdin, which is then closed
  size_t max_stdout = 1 << 20;
  size_t max_stderr = 1 << 20;
  double timeout_s = 10;  // wall clock, from the start
};

struct ChildResult {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal ended it
  bool timed_out = false;
  bool output_limit = false;  // stdout or stderr went past its cap
  std::string out, err;       // at most the caps
  double seconds = 0;         // wall clock from start to reaping
};

// Runs the child to completion (or kills it). Throws acerl::Error when it cannot be started
// (missing executable, no resources); everything the program itself does is in the result.
ChildResult run_child(const ChildSpec& spec, const ChildIo& io);

// The I/O pieces run_child and the pre-started interpreter (code_prestart.h) share.
struct Pipe {
  UniqueFd read, write;
};
Pipe make_pipe();  // both ends O_CLOEXEC; throws acerl::Error
void set_nonblocking(int fd);
std::chrono::steady_clock::time_point after_seconds(double seconds);
// A child's stdout or stderr, read without blocking into `text` up to `cap` bytes.
struct CappedStream {
  UniqueFd fd;
  std::string* text;
  size_t cap;
};
enum class ReadState { open, closed, over_cap };
// Reads what is there; `closed` at end of file (the descriptor is then closed).
ReadState read_some(CappedStream& s);
// Writes the next piece of `data` from `written` to the non-blocking `fd`; closes `fd` once all
// is written or the reader has gone.
void feed_some(UniqueFd& fd, const std::string& data, size_t& written);

// Blocks SIGPIPE in this thread while it writes to a child's stdin (a child that exits without
// reading must not kill the caller), and swallows a SIGPIPE that the writes left pending.
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// A child that outlives one call (the sandbox's pre-started interpreter), started as run_child
// starts its children, with the caller's descriptors as its stdin, stdout and stderr (they stay
// the caller's to close). Destruction kills its whole tree (see run_child) and reaps it.
class ChildProcess {
 public:
  ChildProcess(const ChildSpec& spec, int in_fd, int out_fd, int err_fd);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  bool exited() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// True when the current effective user is root, i.e. when drop_root changes identity.
bool running_as_root();

// The PID that bwrap's --info-fd JSON names as "child-pid"; 0 while the report is incomplete or
// when it names no plausible PID. Never throws (it runs on the way to killing a sandbox).
pid_t parse_bwrap_child_pid(const std::string& info);

}  // namespace acerl::reward
