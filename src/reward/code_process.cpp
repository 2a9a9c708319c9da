// Child process start, I/O, deadline and reaping for the code sandbox; see code_process.h.
//
// Why clone(CLONE_VM | CLONE_VFORK) and not fork: the caller is a training rank that may hold
// tens of GB and MPI transports that dislike fork (page-table copies, registered memory). The
// child borrows the caller's memory until it execs, so everything it needs is prepared before
// the clone (SpawnPlan), all signals are blocked around it, and the child only makes
// async-signal-safe calls on its own small stack. This is how posix_spawn works inside glibc;
// posix_spawn itself cannot set rlimits or change identity, hence the hand-written version.
#include "reward/code_process.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "runtime/error.h"

namespace acerl::reward {
namespace {

using Clock = std::chrono::steady_clock;

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446  // the same number on every architecture
#endif

constexpr uid_t kNobody = 65534;
constexpr int kMaxFds = 3 + 8;  // stdin, stdout, stderr, pass_fds
constexpr size_t kChildStackBytes = 256 * 1024;
constexpr double kBwrapReapGraceS = 2.0;  // bwrap reaps the sandbox's PID 1 within this
constexpr double kDrainGraceS = 0.5;      // output still in flight after the child exited

// Everything the child needs, prepared by the parent before the clone.
struct SpawnPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  const char* cwd;  // nullptr: keep
  int fds[kMaxFds];
  int n_fds;
  const int* rl_resource;
  const struct rlimit* rl_value;
  int n_limits;
  bool drop_root;
  int landlock_fd;                   // -1: none
  const struct sock_fprog* seccomp;  // nullptr: none
  pid_t parent;
  // Written by the child when a step fails; read by the parent once the clone returns.
  int error;
  const char* failed_step;
};

[[noreturn]] void child_fail(SpawnPlan* p, const char* step) {
  p->error = errno != 0 ? errno : EINVAL;
  p->failed_step = step;
  _exit(127);
}

void close_fds_from(int first) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, static_cast<unsigned>(first), ~0U, 0U) == 0) return;
#endif
  struct rlimit rl;
  rlim_t top = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
  if (top > 65536 || top == RLIM_INFINITY) top = 65536;
  for (int fd = first; fd < static_cast<int>(top); ++fd) close(fd);
}

// Runs in the child on its own stack, sharing the caller's memory: async-signal-safe calls only.
int child_main(void* arg) {
  auto* p = static_cast<SpawnPlan*>(arg);
  // Signals are still blocked (see spawn): put every disposition back to default before
  // unblocking, so no handler of the caller ever runs in here.
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s)
    if (s != SIGKILL && s != SIGSTOP) sigaction(s, &dfl, nullptr);
  if (setpgid(0, 0) != 0) child_fail(p, "setpgid");
  // Move the descriptors above their targets first, so one source cannot be clobbered by an
  // earlier dup2 onto its number.
  int high[kMaxFds];
  for (int i = 0; i < p->n_fds; ++i) {
    high[i] = fcntl(p->fds[i], F_DUPFD_CLOEXEC, kMaxFds);
    if (high[i] < 0) child_fail(p, "fcntl(F_DUPFD_CLOEXEC)");
  }
  for (int i = 0; i < p->n_fds; ++i)
    if (dup2(high[i], i) < 0) child_fail(p, "dup2");
  if (p->landlock_fd >= 0 || p->seccomp) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) child_fail(p, "prctl(PR_SET_NO_NEW_PRIVS)");
  }
  if (p->landlock_fd >= 0 && syscall(SYS_landlock_restrict_self, p->landlock_fd, 0U) != 0)
    child_fail(p, "landlock_restrict_self");
  close_fds_from(p->n_fds);
  for (int i = 0; i < p->n_limits; ++i)
    if (setrlimit(p->rl_resource[i], &p->rl_value[i]) != 0) child_fail(p, "setrlimit");
  if (p->drop_root) {
    // Raw syscalls change this task only, which is all there is in the child.
    if (syscall(SYS_setgroups, 0, nullptr) != 0) child_fail(p, "setgroups");
    if (syscall(SYS_setresgid, kNobody, kNobody, kNobody) != 0) child_fail(p, "setresgid");
    if (syscall(SYS_setresuid, kNobody, kNobody, kNobody) != 0) child_fail(p, "setresuid");
  }
  // After the change of identity, which clears the parent-death signal; the parent may have
  // died before the prctl, so check it is still the one.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(p, "prctl(PR_SET_PDEATHSIG)");
  if (getppid() != p->parent) _exit(127);
  if (p->cwd && chdir(p->cwd) != 0) child_fail(p, "chdir");
  if (p->seccomp && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, p->seccomp, 0, 0) != 0)
    child_fail(p, "prctl(PR_SET_SECCOMP)");
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(p->path, p->argv, p->envp);
  child_fail(p, "execve");
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

pid_t spawn(const ChildSpec& spec, int in_fd, int out_fd, int err_fd) {
  ACERL_CHECK(!spec.argv.empty(), "code sandbox: empty command");
  ACERL_CHECK(spec.pass_fds.size() + 3 <= static_cast<size_t>(kMaxFds),
              "code sandbox: too many descriptors to pass");
  std::vector<char*> argv = c_strings(spec.argv), envp = c_strings(spec.env);
  std::vector<int> rl_resource;
  std::vector<struct rlimit> rl_value;
  for (const auto& l : spec.limits) {
    rl_resource.push_back(l.resource);
    rl_value.push_back({static_cast<rlim_t>(l.value), static_cast<rlim_t>(l.value)});
  }
  SpawnPlan plan{};
  plan.path = spec.argv[0].c_str();
  plan.argv = argv.data();
  plan.envp = envp.data();
  plan.cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();
  plan.fds[0] = in_fd;
  plan.fds[1] = out_fd;
  plan.fds[2] = err_fd;
  plan.n_fds = 3;
  for (int fd : spec.pass_fds) plan.fds[plan.n_fds++] = fd;
  plan.rl_resource = rl_resource.data();
  plan.rl_value = rl_value.data();
  plan.n_limits = static_cast<int>(rl_resource.size());
  plan.drop_root = spec.drop_root && geteuid() == 0;
  plan.landlock_fd = spec.landlock_ruleset_fd;
  struct sock_fprog seccomp {};
  if (spec.seccomp_filter && !spec.seccomp_filter->empty()) {
    seccomp.len = static_cast<unsigned short>(spec.seccomp_filter->size());
    seccomp.filter = const_cast<struct sock_filter*>(spec.seccomp_filter->data());
    plan.seccomp = &seccomp;
  }
  plan.parent = getpid();

  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* stack = mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  ACERL_CHECK(stack != MAP_FAILED, "code sandbox: cannot map a child stack");
  mprotect(stack, page, PROT_NONE);  // guard page: an overflow faults instead of corrupting
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  pid_t pid = clone(child_main, static_cast<char*>(stack) + kChildStackBytes,
                    CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  munmap(stack, kChildStackBytes);
  ACERL_CHECK(pid > 0, "code sandbox: clone failed: ", std::strerror(clone_errno));
  if (plan.failed_step) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw Error(str("code sandbox: could not start ", spec.argv[0], ": ", plan.failed_step, ": ",
                    std::strerror(plan.error)));
  }
  return pid;
}

int pidfd_open_or_minus_one(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

// The parent PID of `pid` from /proc, or -1.
pid_t parent_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.open()) return -1;
  char buf[4096];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* ppid = std::strstr(buf, "\nPPid:");
  return ppid ? static_cast<pid_t>(std::atol(ppid + 7)) : -1;
}

// The child and what is needed to end it and everything it started.
class Child {
 public:
  // `info_fd` stays the caller's: it is read here until end of file, never closed (a second
  // close, after the caller's, could close a descriptor another thread has just opened).
  Child(pid_t pid, int info_fd) : pid_(pid), pidfd_(pidfd_open_or_minus_one(pid)), info_(info_fd) {
    if (info_ >= 0) set_nonblocking(info_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!reaped_) {
      kill_tree();
      reap();
    }
  }

  int pidfd() const { return pidfd_.get(); }
  int info_fd() const { return info_; }

  bool exited() const {
    siginfo_t si;
    si.si_pid = 0;
    return waitid(P_PID, static_cast<id_t>(pid_), &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == pid_;
  }

  // Reads what bwrap has written to the info pipe; opens a pidfd on the sandbox's PID 1 once
  // its PID is known (a pidfd cannot be fooled by PID reuse later).
  void read_info() {
    char buf[512];
    while (info_ >= 0) {
      ssize_t n = ::read(info_, buf, sizeof buf);
      if (n > 0) {
        // bwrap's report is one short JSON object; more is not kept (and cannot grow without
        // bound in a destructor's path).
        if (info_text_.size() < 4096) info_text_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      info_ = -1;  // end of file: done with it (the caller closes it)
    }
    if (!inner_.open()) {
      pid_t inner = parse_bwrap_child_pid(info_text_);
      // The pipe stays open until bwrap closes it: closing it early would SIGPIPE bwrap.
      if (inner > 0) {
        inner_.reset(pidfd_open_or_minus_one(inner));
        // Only a child of our bwrap may be signalled: a garbled report must not aim the kill
        // at some other process (the caller may be root).
        if (parent_of(inner) != pid_) inner_.reset();
      }
    }
  }

  // SIGKILL to the whole tree. Under bwrap, the sandbox's PID 1 is killed first: the kernel
  // then kills every process of its PID namespace, and bwrap, still alive, reaps PID 1 and
  // exits. Killing bwrap itself first would leave PID 1 to be reaped by the system's init.
  // The process group catches the rest (the rlimit fallback, or a bwrap that is stuck).
  void kill_tree() {
    read_info();
#ifdef SYS_pidfd_send_signal
    if (inner_.open() && !exited()) {
      syscall(SYS_pidfd_send_signal, inner_.get(), SIGKILL, nullptr, 0);
      wait_exit(kBwrapReapGraceS);
    }
#endif
    ::kill(-pid_, SIGKILL);
  }

  // Blocks until the child exited or `seconds` passed.
  void wait_exit(double seconds) {
    auto until = after_seconds(seconds);
    while (!exited() && Clock::now() < until) {
      if (pidfd_.open()) {
        struct pollfd p {
          pidfd_.get(), POLLIN, 0
        };
        poll(&p, 1, 20);
      } else {
        usleep(5000);
      }
    }
  }

  // waitpid for this child only: other threads of the caller may have children of their own.
  int reap() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) break;
    }
    reaped_ = true;
    return status;
  }

 private:
  pid_t pid_;
  UniqueFd pidfd_, inner_;
  int info_ = -1;
  std::string info_text_;
  bool reaped_ = false;
};

int poll_ms(Clock::time_point until, bool have_pidfd) {
  double ms = std::chrono::duration<double, std::milli>(until - Clock::now()).count();
  int out = static_cast<int>(std::ceil(std::max(0.0, ms)));
  return have_pidfd ? out : std::min(out, 10);  // without a pidfd, exit is noticed by polling
}

}  // namespace

// See code_process.h.
pid_t parse_bwrap_child_pid(const std::string& info) {
  size_t key = info.find("\"child-pid\"");
  if (key == std::string::npos) return 0;
  size_t i = info.find(':', key);
  if (i == std::string::npos) return 0;
  ++i;
  while (i < info.size() && (info[i] == ' ' || info[i] == '\t')) ++i;
  size_t start = i;
  while (i < info.size() && info[i] >= '0' && info[i] <= '9') ++i;
  if (i == start || i == info.size()) return 0;  // no digits yet, or maybe more to come
  // No exception here (this runs in ~Child): a PID has at most 7 digits (pid_max <= 2^22), so
  // anything longer is garbage, and the digits are summed by hand.
  if (i - start > 9) return 0;
  pid_t pid = 0;
  for (size_t k = start; k < i; ++k) pid = pid * 10 + (info[k] - '0');
  return pid;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

bool running_as_root() { return geteuid() == 0; }

Pipe make_pipe() {
  int fds[2];
  ACERL_CHECK(pipe2(fds, O_CLOEXEC) == 0, "code sandbox: pipe2 failed: ", std::strerror(errno));
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void set_nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

Clock::time_point after_seconds(double seconds) {
  return Clock::now() +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

ReadState read_some(CappedStream& s) {
  char buf[65536];
  while (true) {
    ssize_t n = ::read(s.fd.get(), buf, sizeof buf);
    if (n > 0) {
      size_t room = s.cap - std::min(s.cap, s.text->size());
      s.text->append(buf, std::min(room, static_cast<size_t>(n)));
      if (static_cast<size_t>(n) > room) return ReadState::over_cap;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return ReadState::open;
    s.fd.reset();
    return ReadState::closed;
  }
}

void feed_some(UniqueFd& fd, const std::string& data, size_t& written) {
  const size_t chunk = std::min<size_t>(data.size() - written, 65536);
  ssize_t n = ::write(fd.get(), data.data() + written, chunk);
  if (n > 0) written += static_cast<size_t>(n);
  if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == data.size())
    fd.reset();  // all fed, or the child closed its stdin (EPIPE)
}

SigpipeGuard::SigpipeGuard() {
  sigemptyset(&pipe_);
  sigaddset(&pipe_, SIGPIPE);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
}

SigpipeGuard::~SigpipeGuard() {
  sigset_t pending;
  sigpending(&pending);
  if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
    struct timespec zero {
      0, 0
    };
    sigtimedwait(&pipe_, nullptr, &zero);
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

struct ChildProcess::State {
  State(pid_t pid, int info_fd) : child(pid, info_fd) {}
  Child child;
};

ChildProcess::ChildProcess(const ChildSpec& spec, int in_fd, int out_fd, int err_fd)
    : state_(std::make_unique<State>(spawn(spec, in_fd, out_fd, err_fd), spec.bwrap_info_fd)) {}

ChildProcess::~ChildProcess() = default;  // Child's destructor kills the tree and reaps

bool ChildProcess::exited() const { return state_->child.exited(); }

ChildResult run_child(const ChildSpec& spec, const ChildIo& io) {
  SigpipeGuard sigpipe_guard;
  ChildResult result;
  Pipe in = make_pipe(), out = make_pipe(), err = make_pipe();
  const auto start = Clock::now();
  const auto deadline = after_seconds(io.timeout_s);
  pid_t pid = spawn(spec, in.read.get(), out.write.get(), err.write.get());
  Child child(pid, spec.bwrap_info_fd);
  in.read.reset();
  out.write.reset();
  err.write.reset();
  UniqueFd stdin_fd = std::move(in.write);
  if (io.stdin_data.empty()) stdin_fd.reset();
  if (stdin_fd.open()) set_nonblocking(stdin_fd.get());
  CappedStream streams[2] = {{std::move(out.read), &result.out, io.max_stdout},
                       {std::move(err.read), &result.err, io.max_stderr}};
  for (auto& s : streams) set_nonblocking(s.fd.get());

  size_t written = 0;
  bool exited = false;
  Clock::time_point drain_until;
  while (true) {
    if (!exited && child.exited()) {
      exited = true;
      child.kill_tree();  // whatever it left running in the background
      drain_until = after_seconds(kDrainGraceS);
    }
    if (exited && !streams[0].fd.open() && !streams[1].fd.open()) break;
    if (exited && Clock::now() >= drain_until) break;  // a writer escaped the kill
    if (!exited && Clock::now() >= deadline) {
      result.timed_out = true;
      child.kill_tree();
      break;
    }
    std::vector<struct pollfd> fds;
    if (stdin_fd.open()) fds.push_back({stdin_fd.get(), POLLOUT, 0});
    for (auto& s : streams)
      if (s.fd.open()) fds.push_back({s.fd.get(), POLLIN, 0});
    if (child.info_fd() >= 0) fds.push_back({child.info_fd(), POLLIN, 0});
    if (child.pidfd() >= 0 && !exited) fds.push_back({child.pidfd(), POLLIN, 0});
    int timeout = poll_ms(exited ? drain_until : deadline, child.pidfd() >= 0);
    if (poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR)
      throw Error(str("code sandbox: poll failed: ", std::strerror(errno)));
    for (const auto& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == stdin_fd.get()) {
        feed_some(stdin_fd, io.stdin_data, written);
      } else if (p.fd == child.info_fd()) {
        child.read_info();
      }
    }
    bool over_cap = false;
    for (auto& s : streams)
      if (s.fd.open() && read_some(s) == ReadState::over_cap) over_cap = true;
    if (over_cap) {
      result.output_limit = true;
      child.kill_tree();
      break;
    }
  }
  stdin_fd.reset();
  for (auto& s : streams) s.fd.reset();
  int status = child.reap();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

}  // namespace acerl::reward
