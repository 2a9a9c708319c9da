// bubblewrap / rlimit sandbox for submitted programs; see code_sandbox.h.
//
// What a run may see and do (bwrap mode): a fresh root with /usr (and the /bin, /lib* links or
// dirs) read-only, the interpreter's prefix read-only when it lives elsewhere, private /proc and
// /dev, and a private size-capped tmpfs /tmp holding main.py as its working directory; new user,
// PID, network, IPC, UTS and cgroup namespaces (no network at all, no view of other processes),
// a new session, no capabilities. The caller's files, home, /work, checkpoints are simply not
// there. rlimits bound memory, CPU, file size, open files and core dumps of every process;
// RLIMIT_NPROC is applied by the harness from inside the sandbox's user namespace, because the
// kernel counts it per user, so set before bwrap it would count the caller's own threads.
// When the caller is root, the child also drops to uid/gid 65534 first (root ignores NPROC).
#include "reward/code_sandbox.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

#include "reward/code_harness.h"
#include "reward/code_process.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace acerl::reward {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kFileBytes = 16ull << 20;   // RLIMIT_FSIZE: largest file a run may write
constexpr uint64_t kTmpfsBytes = 64ull << 20;  // bwrap's /tmp
constexpr uint64_t kOpenFiles = 128;           // RLIMIT_NOFILE
constexpr double kProbeTimeoutS = 20;

std::vector<std::string> child_env(const std::string& home) {
  return {"PATH=/usr/local/bin:/usr/bin:/bin",
          "HOME=" + home,
          "LANG=C.UTF-8",
          "LC_ALL=C.UTF-8",
          "OMP_NUM_THREADS=1",
          "OPENBLAS_NUM_THREADS=1",
          "MKL_NUM_THREADS=1"};
}

std::vector<ChildLimit> child_limits(const SandboxLimits& l) {
  auto cpu = static_cast<uint64_t>(std::ceil(l.timeout_s)) + 1;
  return {{RLIMIT_AS, static_cast<uint64_t>(l.memory_mb) << 20},
          {RLIMIT_CPU, cpu},
          {RLIMIT_FSIZE, kFileBytes},
          {RLIMIT_NOFILE, kOpenFiles},
          {RLIMIT_CORE, 0}};
}

std::string find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

bool under_usr(const fs::path& p) {
  std::string s = p.lexically_normal().string();
  return s.rfind("/usr/", 0) == 0;
}

// Read-only binds that make the interpreter work inside the sandbox: /usr, the top-level /bin
// and /lib* (symlinks on merged-/usr systems like Debian 12), and the prefix of an interpreter
// outside /usr (a venv or a module-provided Python).
std::vector<std::string> system_binds(const std::string& python) {
  std::vector<std::string> args = {"--ro-bind", "/usr", "/usr"};
  for (const char* dir : {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
    std::error_code ec;
    auto status = fs::symlink_status(dir, ec);
    if (ec || !fs::exists(status)) continue;
    if (fs::is_symlink(status)) {
      args.insert(args.end(), {"--symlink", fs::read_symlink(dir, ec).string(), dir});
    } else if (fs::is_directory(status)) {
      args.insert(args.end(), {"--ro-bind", dir, dir});
    }
  }
  std::error_code ec;
  std::vector<fs::path> prefixes = {fs::path(python).parent_path().parent_path()};
  fs::path real = fs::canonical(python, ec);
  if (!ec) prefixes.push_back(real.parent_path().parent_path());
  std::vector<std::string> seen;
  for (const auto& prefix : prefixes) {
    std::string p = prefix.lexically_normal().string();
    if (p.empty() || p == "/" || p == "/usr" || under_usr(prefix)) continue;
    bool dup = false;
    for (const auto& s : seen) dup = dup || s == p;
    if (dup) continue;
    seen.push_back(p);
    args.insert(args.end(), {"--ro-bind", p, p});
  }
  return args;
}

std::vector<std::string> harness_args(const std::string& mode, int nproc) {
  return {"-I", "-c", code_harness_source(), mode, std::to_string(nproc)};
}

// A private directory for the rlimit fallback, removed with everything in it afterwards.
class ScratchDir {
 public:
  explicit ScratchDir(bool for_nobody) {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/acerl-code-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    ACERL_CHECK(mkdtemp(buf.data()), "code sandbox: cannot create a directory like ", pattern, ": ",
                std::strerror(errno));
    path_ = buf.data();
    for_nobody_ = for_nobody;
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);  // does not follow the program's symlinks
  }
  const std::string& path() const { return path_; }
  // The program is written while the directory is still the caller's only, then handed over.
  void write_program(const std::string& program) {
    std::string file = path_ + "/main.py";
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    ACERL_CHECK(fd >= 0, "code sandbox: cannot write ", file, ": ", std::strerror(errno));
    UniqueFd owner(fd);
    ACERL_CHECK(::write(fd, program.data(), program.size()) == static_cast<ssize_t>(program.size()),
                "code sandbox: short write to ", file);
    if (for_nobody_)
      ACERL_CHECK(chown(path_.c_str(), 65534, 65534) == 0, "code sandbox: chown ", path_, ": ",
                  std::strerror(errno));
  }

 private:
  std::string path_;
  bool for_nobody_ = false;
};

UniqueFd program_memfd(const std::string& program) {
  UniqueFd fd(memfd_create("acerl-main.py", MFD_CLOEXEC));
  ACERL_CHECK(fd.open(), "code sandbox: memfd_create failed: ", std::strerror(errno));
  size_t done = 0;
  while (done < program.size()) {
    ssize_t n = ::write(fd.get(), program.data() + done, program.size() - done);
    ACERL_CHECK(n > 0, "code sandbox: writing the program to a memfd failed");
    done += static_cast<size_t>(n);
  }
  lseek(fd.get(), 0, SEEK_SET);
  return fd;
}

std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n\r ");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1, end + 1 - (start + 1));
}

// Timeouts, caps and signals before exit statuses: a program killed at the deadline has a
// meaningless status.
std::string classify(const ChildResult& r, bool via_bwrap) {
  if (r.timed_out) return "timeout";
  if (r.output_limit) return "output_limit";
  int sig = r.signal;
  // bwrap reports a signal-killed program as exit status 128 + signal.
  if (via_bwrap && sig == 0 && r.exit_code > 128 && r.exit_code < 128 + NSIG)
    sig = r.exit_code - 128;
  // SIGKILL that was not ours: the CPU-time limit (soft = hard sends SIGKILL, and the program
  // as the PID namespace's init could not be stopped by SIGXCPU anyway). RLIMIT_AS turns
  // memory exhaustion into MemoryError long before the kernel's OOM killer would act.
  if (sig == SIGXCPU || sig == SIGKILL) return "timeout";
  if (sig == SIGXFSZ) return "output_limit";
  if (sig != 0) return "runtime_error";
  if (r.exit_code == 0) return "";
  if (r.err.find("MemoryError") != std::string::npos) return "memory";
  // Python ignores SIGXFSZ, so a write past RLIMIT_FSIZE surfaces as EFBIG.
  if (r.err.find("[Errno 27]") != std::string::npos) return "output_limit";
  return "runtime_error";
}

SandboxRun to_run(ChildResult r, bool via_bwrap) {
  SandboxRun run;
  run.failure = classify(r, via_bwrap);
  run.out = std::move(r.out);
  run.err = std::move(r.err);
  run.exit_code = r.exit_code;
  run.signal = r.signal;
  run.seconds = r.seconds;
  return run;
}

// Empty when bubblewrap runs the interpreter here, else what went wrong.
std::string probe_bwrap(const Sandbox& sandbox) {
  static std::mutex mutex;
  static std::map<std::string, std::string> cache;  // interpreter -> result
  std::lock_guard<std::mutex> lock(mutex);
  auto hit = cache.find(sandbox.python());
  if (hit != cache.end()) return hit->second;
  std::string problem;
  try {
    SandboxRun run = sandbox.run_raw("print(6 * 7)");
    if (run.failure != "" || run.out != "42\n")
      problem = str("a test run printed '", run.out, "' and failed with '", run.failure,
                    "': ", last_line(run.err));
  } catch (const Error& e) {
    problem = e.what();
  }
  cache[sandbox.python()] = problem;
  return problem;
}

}  // namespace

const char* sandbox_mode_name(SandboxMode mode) {
  return mode == SandboxMode::bwrap ? "bwrap" : "rlimit";
}

Sandbox::Sandbox(std::string python, const std::string& mode, SandboxLimits limits)
    : python_(std::move(python)), limits_(limits) {
  ACERL_USAGE_CHECK(!python_.empty() && python_[0] == '/' && access(python_.c_str(), X_OK) == 0,
                    "reward.code.python = '", python_,
                    "' is not an executable given by its absolute path");
  ACERL_USAGE_CHECK(mode == "auto" || mode == "bwrap" || mode == "rlimit",
                    "reward.code.sandbox = '", mode, "': valid values are auto, bwrap, rlimit");
  if (mode == "rlimit") return;
  bwrap_ = find_in_path("bwrap");
  std::string problem = "bwrap (bubblewrap) is not installed or not on PATH";
  if (!bwrap_.empty()) {
    mode_ = SandboxMode::bwrap;
    SandboxLimits probe_limits = limits_;
    probe_limits.timeout_s = std::max(limits_.timeout_s, kProbeTimeoutS);
    std::swap(limits_, probe_limits);
    problem = probe_bwrap(*this);
    std::swap(limits_, probe_limits);
  }
  if (problem.empty()) return;
  mode_ = SandboxMode::rlimit;
  ACERL_USAGE_CHECK(mode != "bwrap", "reward.code.sandbox = bwrap, but bubblewrap cannot run ",
                    python_, " here: ", problem,
                    ". Install bubblewrap and allow user namespaces, or set sandbox = auto/rlimit");
  warn_once("code-sandbox-fallback",
            str("WARNING: code reward sandbox: bubblewrap unusable (", problem,
                "); falling back to rlimits + process-group kill. Submitted programs then see "
                "the file system and network of ",
                running_as_root() ? "user nobody" : "the training job's user",
                " and are not isolated from other processes",
                running_as_root() ? "" : " (they can signal or read the training job)", "."));
}

SandboxRun Sandbox::run(const std::string& program, const std::string& harness_mode,
                        const std::string& stdin_data) const {
  ACERL_CHECK(harness_mode == "stdio" || harness_mode == "call",
              "code sandbox: unknown harness mode ", harness_mode);
  // Without a user namespace and without the switch to nobody, RLIMIT_NPROC would count the
  // caller's own threads: the fallback for a non-root caller goes without it.
  bool nproc_meaningful = mode_ == SandboxMode::bwrap || running_as_root();
  int nproc = nproc_meaningful ? limits_.max_processes : 0;
  return execute(program, harness_args(harness_mode, nproc), stdin_data);
}

SandboxRun Sandbox::run_raw(const std::string& python_code) const {
  return execute("", {"-I", "-c", python_code}, "");
}

SandboxRun Sandbox::execute(const std::string& program, const std::vector<std::string>& python_args,
                            const std::string& stdin_data) const {
  return mode_ == SandboxMode::bwrap ? execute_bwrap(program, python_args, stdin_data)
                                     : execute_rlimit(program, python_args, stdin_data);
}

SandboxRun Sandbox::execute_bwrap(const std::string& program,
                                  const std::vector<std::string>& python_args,
                                  const std::string& stdin_data) const {
  UniqueFd memfd = program_memfd(program);
  int info[2];
  ACERL_CHECK(pipe2(info, O_CLOEXEC) == 0, "code sandbox: pipe2 failed");
  UniqueFd info_read(info[0]), info_write(info[1]);
  ChildSpec spec;
  // --as-pid-1: the program itself is the PID namespace's init. With bwrap's own init in between,
  // bwrap exits as soon as the program does and leaves its init to the system's init to reap.
  spec.argv = {bwrap_,          "--unshare-all", "--as-pid-1", "--die-with-parent",
               "--new-session", "--cap-drop",    "ALL"};
  for (auto& a : system_binds(python_)) spec.argv.push_back(std::move(a));
  for (const char* a : {"--proc", "/proc", "--dev", "/dev", "--size"}) spec.argv.push_back(a);
  spec.argv.push_back(std::to_string(kTmpfsBytes));
  // fd 3 = the program, fd 4 = the info pipe (pass_fds order below).
  for (const char* a : {"--tmpfs", "/tmp", "--file", "3", "/tmp/main.py", "--info-fd", "4",
                        "--chdir", "/tmp", "--"})
    spec.argv.push_back(a);
  spec.argv.push_back(python_);
  spec.argv.insert(spec.argv.end(), python_args.begin(), python_args.end());
  spec.env = child_env("/tmp");
  spec.limits = child_limits(limits_);
  spec.drop_root = true;
  spec.pass_fds = {memfd.get(), info_write.get()};
  spec.bwrap_info_fd = info_read.get();
  ChildIo io;
  io.stdin_data = stdin_data;
  io.max_stdout = io.max_stderr = static_cast<size_t>(limits_.max_output_kb) << 10;
  io.timeout_s = limits_.timeout_s;
  return to_run(run_child(spec, io), true);
}

SandboxRun Sandbox::execute_rlimit(const std::string& program,
                                   const std::vector<std::string>& python_args,
                                   const std::string& stdin_data) const {
  ScratchDir dir(running_as_root());
  dir.write_program(program);
  ChildSpec spec;
  spec.argv = {python_};
  spec.argv.insert(spec.argv.end(), python_args.begin(), python_args.end());
  spec.env = child_env(dir.path());
  spec.cwd = dir.path();
  spec.limits = child_limits(limits_);
  spec.drop_root = true;
  ChildIo io;
  io.stdin_data = stdin_data;
  io.max_stdout = io.max_stderr = static_cast<size_t>(limits_.max_output_kb) << 10;
  io.timeout_s = limits_.timeout_s;
  return to_run(run_child(spec, io), false);
}

}  // namespace acerl::reward
