// The pre-started sandboxed interpreter; see code_prestart.h. The protocol is documented with
// its Python side, code_prestart_source (code_harness.h).
#include "reward/code_prestart.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/error.h"

namespace acerl::reward {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kDrainGraceS = 0.5;  // output still in flight after the reply

#pragma pack(push, 1)
struct Request {  // "<4sBiqqI"
  char magic[4];
  uint8_t mode;
  int32_t nproc;
  int64_t memory;
  int64_t cpu;
  uint32_t length;
};
struct Reply {  // "<iB"
  int32_t status;
  uint8_t clean;
};
#pragma pack(pop)

int ms_until(Clock::time_point t) {
  const double ms = std::chrono::duration<double, std::milli>(t - Clock::now()).count();
  return static_cast<int>(std::ceil(std::max(0.0, ms)));
}

// Sends all of `data` (blocking); false when the interpreter's end is gone.
bool send_all(int fd, const char* data, size_t size) {
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::send(fd, data + done, size - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

PrestartedInterpreter::PrestartedInterpreter(ChildSpec spec, UniqueFd info_read,
                                             UniqueFd info_write, UniqueFd seccomp,
                                             double start_timeout_s)
    : info_read_(std::move(info_read)) {
  int pair[2];
  ACERL_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == 0,
              "code sandbox: socketpair failed: ", std::strerror(errno));
  control_.reset(pair[0]);
  UniqueFd theirs(pair[1]);
  // The interpreter's stdin and stdout are pipes, as a run's are (Python fixes at start-up
  // whether they are seekable); nothing is ever written or read there. Its stderr is the job's,
  // so that a crash of it shows in the job log.
  Pipe in = make_pipe(), out = make_pipe();
  spec.pass_fds = {theirs.get(), info_write.get()};
  if (seccomp.open()) spec.pass_fds.push_back(seccomp.get());
  spec.bwrap_info_fd = info_read_.get();
  process_ = std::make_unique<ChildProcess>(spec, in.read.get(), out.write.get(), STDERR_FILENO);
  theirs.reset();
  info_write.reset();
  const auto until = after_seconds(start_timeout_s);
  char ready = 0;
  while (true) {
    struct pollfd p {
      control_.get(), POLLIN, 0
    };
    const int left = ms_until(until);
    if (poll(&p, 1, left) < 0 && errno == EINTR) continue;
    if (p.revents != 0) {
      ssize_t n = ::recv(control_.get(), &ready, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n == 1 && ready == 'R') return;
      throw Error("code sandbox: the pre-started interpreter exited while starting");
    }
    if (left == 0)
      throw Error(str("code sandbox: the pre-started interpreter was not ready after ",
                      start_timeout_s, " s"));
  }
}

PrestartedInterpreter::~PrestartedInterpreter() {
  control_.reset();  // end of file on fd 3: the interpreter exits; the tree is killed anyway
  process_.reset();
}

PrestartedRun PrestartedInterpreter::run(const std::string& program,
                                         const std::string& harness_mode, int nproc,
                                         uint64_t memory_bytes, uint64_t cpu_s,
                                         const ChildIo& io) {
  SigpipeGuard sigpipe_guard;
  PrestartedRun out;
  ChildResult& result = out.result;
  const auto start = Clock::now();
  const auto deadline = after_seconds(io.timeout_s);
  Pipe in = make_pipe(), child_out = make_pipe(), child_err = make_pipe();

  Request request{};
  std::memcpy(request.magic, "ACZ1", 4);
  request.mode = harness_mode == "call" ? 1 : 0;
  request.nproc = nproc;
  request.memory = static_cast<int64_t>(memory_bytes);
  request.cpu = static_cast<int64_t>(cpu_s);
  request.length = static_cast<uint32_t>(program.size());
  int fds[3] = {in.read.get(), child_out.write.get(), child_err.write.get()};
  char control[CMSG_SPACE(sizeof fds)];
  std::memset(control, 0, sizeof control);
  struct iovec iov {
    &request, sizeof request
  };
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(cmsg), fds, sizeof fds);
  ssize_t sent;
  do {
    sent = ::sendmsg(control_.get(), &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  const auto* header = reinterpret_cast<const char*>(&request);
  // (Blocking sends: the interpreter reads the whole request before it forks.)
  if (sent < 0 || !send_all(control_.get(), header + sent, sizeof request - static_cast<size_t>(sent)) ||
      !send_all(control_.get(), program.data(), program.size())) {
    process_.reset();
    throw Error("code sandbox: the pre-started interpreter is gone");
  }
  // Only the child holds these ends now.
  in.read.reset();
  child_out.write.reset();
  child_err.write.reset();

  UniqueFd stdin_fd = std::move(in.write);
  if (io.stdin_data.empty()) stdin_fd.reset();
  if (stdin_fd.open()) set_nonblocking(stdin_fd.get());
  CappedStream streams[2] = {{std::move(child_out.read), &result.out, io.max_stdout},
                             {std::move(child_err.read), &result.err, io.max_stderr}};
  for (auto& s : streams) set_nonblocking(s.fd.get());

  Reply reply{};
  size_t reply_bytes = 0, written = 0;
  bool replied = false, broken = false;
  Clock::time_point drain_until;
  while (true) {
    if (replied && !streams[0].fd.open() && !streams[1].fd.open()) break;
    if (replied && Clock::now() >= drain_until) break;  // a writer escaped the sweep
    if (!replied && Clock::now() >= deadline) {
      result.timed_out = true;
      break;
    }
    std::vector<struct pollfd> polled;
    if (stdin_fd.open()) polled.push_back({stdin_fd.get(), POLLOUT, 0});
    for (auto& s : streams)
      if (s.fd.open()) polled.push_back({s.fd.get(), POLLIN, 0});
    if (!replied) polled.push_back({control_.get(), POLLIN, 0});
    if (poll(polled.data(), polled.size(), ms_until(replied ? drain_until : deadline)) < 0 &&
        errno != EINTR)
      throw Error(str("code sandbox: poll failed: ", std::strerror(errno)));
    for (const auto& p : polled) {
      if (p.revents == 0) continue;
      if (p.fd == stdin_fd.get()) {
        feed_some(stdin_fd, io.stdin_data, written);
      } else if (p.fd == control_.get()) {
        ssize_t n = ::recv(control_.get(), reinterpret_cast<char*>(&reply) + reply_bytes,
                           sizeof reply - reply_bytes, MSG_DONTWAIT);
        if (n > 0) reply_bytes += static_cast<size_t>(n);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) broken = true;
        if (reply_bytes == sizeof reply) {
          replied = true;
          drain_until = after_seconds(kDrainGraceS);
        }
      }
    }
    if (broken) break;
    bool over = false;
    for (auto& s : streams)
      if (s.fd.open() && read_some(s) == ReadState::over_cap) over = true;
    if (over) {
      result.output_limit = true;
      break;
    }
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (broken) {
    // The run was delivered and the interpreter is gone (only a run can have done that): the
    // run failed, with what it printed.
    result.err += "\nacerl: the sandbox's interpreter ended during this run\n";
  }
  if (replied) {
    const int status = reply.status;
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  }
  // A run cut short leaves its child running, and output still open after the reply means a
  // writer escaped: only a new sandbox is certain to be clean.
  const bool drained = !streams[0].fd.open() && !streams[1].fd.open();
  out.reusable = replied && reply.clean == 1 && drained && !result.timed_out &&
                 !result.output_limit;
  if (!out.reusable) process_.reset();
  return out;
}

}  // namespace acerl::reward
