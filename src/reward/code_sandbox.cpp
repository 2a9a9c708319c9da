// bubblewrap / rlimit sandbox for submitted programs; see code_sandbox.h.
//
// What a run may see and do (bwrap mode): a fresh read-only root with /usr (and the /bin, /lib*
// links or dirs) read-only, the interpreter's prefix read-only when it lives elsewhere, private
// /proc and a read-only private /dev (no writable /dev/shm), and a private tmpfs /tmp capped at
// kTmpfsBytes holding main.py as its working directory: the only writable place. New user, PID,
// network, IPC, UTS and cgroup namespaces (no network at all, no view of other processes), no
// further user namespaces (--disable-userns, and the seccomp filter of code_seccomp.h), a new
// session, no capabilities. The caller's files, home, /work, checkpoints and the test data with
// its expected outputs are simply not there. rlimits bound memory, CPU, file size, open files
// and core dumps of every process; RLIMIT_NPROC is applied by the harness from inside the
// sandbox's user namespace, because the kernel counts it per user, so set before bwrap it would
// count the caller's own threads. When the caller is root, the child also drops to uid/gid
// 65534 first (root ignores NPROC).
//
// The rlimit fallback (only with reward.code.allow_unsafe) runs the interpreter directly, in a
// scratch directory, under the same rlimits and seccomp filter plus, where the kernel has
// Landlock, a ruleset that lets it read only the interpreter's directories and its own scratch
// directory (code_landlock.h): without Landlock it sees every file its user may read.
#include "reward/code_sandbox.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
#include "reward/code_landlock.h"
#include "reward/code_prestart.h"
#include "reward/code_process.h"
#include "reward/code_seccomp.h"
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

// The top-level directories an interpreter in /usr may need: /usr itself and the /bin, /lib*
// that merged-/usr systems like Debian 12 keep as symlinks into it.
const char* const kSystemDirs[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};

// The prefix of an interpreter outside /usr (a venv or a module-provided Python), both as named
// and as its symlinks resolve, for it to be readable inside the sandbox.
std::vector<std::string> interpreter_prefixes(const std::string& python) {
  std::error_code ec;
  std::vector<fs::path> prefixes = {fs::path(python).parent_path().parent_path()};
  fs::path real = fs::canonical(python, ec);
  if (!ec) prefixes.push_back(real.parent_path().parent_path());
  std::vector<std::string> out;
  for (const auto& prefix : prefixes) {
    std::string p = prefix.lexically_normal().string();
    if (p.empty() || p == "/" || p == "/usr" || under_usr(prefix)) continue;
    bool dup = false;
    for (const auto& s : out) dup = dup || s == p;
    if (!dup) out.push_back(p);
  }
  return out;
}

// Read-only binds that make the interpreter work inside the sandbox.
std::vector<std::string> system_binds(const std::string& python) {
  std::vector<std::string> args = {"--ro-bind", "/usr", "/usr"};
  for (const char* dir : kSystemDirs) {
    std::error_code ec;
    auto status = fs::symlink_status(dir, ec);
    if (ec || !fs::exists(status)) continue;
    if (fs::is_symlink(status)) {
      args.insert(args.end(), {"--symlink", fs::read_symlink(dir, ec).string(), dir});
    } else if (fs::is_directory(status)) {
      args.insert(args.end(), {"--ro-bind", dir, dir});
    }
  }
  for (const auto& p : interpreter_prefixes(python)) args.insert(args.end(), {"--ro-bind", p, p});
  return args;
}

// What the rlimit fallback's Landlock ruleset lets the interpreter read.
std::vector<std::string> readable_dirs(const std::string& python) {
  std::vector<std::string> dirs = {"/usr"};
  for (const char* dir : kSystemDirs) dirs.emplace_back(dir);
  for (auto& p : interpreter_prefixes(python)) dirs.push_back(std::move(p));
  return dirs;
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

UniqueFd memfd_holding(const char* name, const void* data, size_t size) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC));
  ACERL_CHECK(fd.open(), "code sandbox: memfd_create failed: ", std::strerror(errno));
  const char* bytes = static_cast<const char*>(data);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd.get(), bytes + done, size - done);
    ACERL_CHECK(n > 0, "code sandbox: writing ", name, " to a memfd failed");
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

constexpr const char* kGetBubblewrap =
    "Install bubblewrap (Debian/Ubuntu: apt install bubblewrap; RHEL/Fedora: dnf install "
    "bubblewrap; Spack: spack install bubblewrap, then spack load bubblewrap so that bwrap is on "
    "PATH) and make sure unprivileged user namespaces are enabled (sysctl "
    "user.max_user_namespaces > 0; on Ubuntu 23.10 and later also "
    "kernel.apparmor_restrict_unprivileged_userns = 0 or an AppArmor profile for bwrap). "
    "Even as root the sandbox runs as nobody and needs them";

// What a program can reach in the rlimit fallback on this machine.
std::string fallback_exposure(int landlock) {
  const std::string user = running_as_root() ? "user nobody" : "the training job's user";
  if (landlock <= 0)
    return str("no Landlock in this kernel, so programs can read every file ", user,
               " may read (the training data and its expected outputs included), use the "
               "network and see other processes");
  std::string out = str(
      "Landlock limits programs to reading the interpreter's directories and their own scratch "
      "directory, but they share the host's PID and IPC namespaces, their scratch directory has "
      "no size limit beyond RLIMIT_FSIZE per file");
  if (landlock < 4) out += ", and they can use the network";
  if (landlock < 6) out += str(", and they can signal processes of ", user);
  return out;
}

}  // namespace

const char* sandbox_mode_name(SandboxMode mode) {
  return mode == SandboxMode::bwrap ? "bwrap" : "rlimit";
}

Sandbox::~Sandbox() = default;
Sandbox::Sandbox(Sandbox&&) noexcept = default;

Sandbox::Sandbox(std::string python, const std::string& mode, SandboxLimits limits,
                 bool allow_unsafe, bool prestart)
    : python_(std::move(python)), limits_(limits) {
  ACERL_USAGE_CHECK(!python_.empty() && python_[0] == '/' && access(python_.c_str(), X_OK) == 0,
                    "reward.code.python = '", python_,
                    "' is not an executable given by its absolute path");
  ACERL_USAGE_CHECK(mode == "auto" || mode == "bwrap" || mode == "rlimit",
                    "reward.code.sandbox = '", mode, "': valid values are auto, bwrap, rlimit");
  std::string problem;
  if (mode != "rlimit") {
    bwrap_ = find_in_path("bwrap");
    problem = "bwrap (bubblewrap) is not installed or not on PATH";
  }
  if (!bwrap_.empty()) {
    mode_ = SandboxMode::bwrap;
    SandboxLimits probe_limits = limits_;
    probe_limits.timeout_s = std::max(limits_.timeout_s, kProbeTimeoutS);
    std::swap(limits_, probe_limits);
    problem = probe_bwrap(*this);
    std::swap(limits_, probe_limits);
    if (problem.empty()) {
      if (prestart) start_prestart();
      return;
    }
  }
  mode_ = SandboxMode::rlimit;
  landlock_abi_ = landlock_abi();
  const std::string exposure = fallback_exposure(landlock_abi_);
  ACERL_USAGE_CHECK(mode != "bwrap", "reward.code.sandbox = bwrap, but bubblewrap cannot run ",
                    python_, " here: ", problem, ". ", kGetBubblewrap);
  ACERL_USAGE_CHECK(mode != "auto" || allow_unsafe,
                    "reward.code.sandbox = auto, but bubblewrap cannot run ", python_, " here (",
                    problem,
                    "), and model-written programs are not run outside it unless "
                    "reward.code.allow_unsafe = true (the rlimit fallback: ",
                    exposure, "). ", kGetBubblewrap);
  ACERL_USAGE_CHECK(allow_unsafe,
                    "reward.code.sandbox = rlimit runs model-written programs outside bubblewrap (",
                    exposure,
                    "); set reward.code.allow_unsafe = true to accept that, or use sandbox = auto "
                    "or bwrap");
  warn_once("code-sandbox-fallback",
            str("WARNING: code reward sandbox: ",
                mode == "auto" ? str("bubblewrap unusable (", problem, "); ") : std::string(),
                "running submitted programs in the rlimit fallback (allow_unsafe = true): ",
                exposure, "."));
}

void Sandbox::start_prestart() {
  pool_ = std::make_shared<InterpreterPool>();
  std::string problem;
  try {
    SandboxRun run = execute_prestarted("print(6 * 7)\n", "stdio", limits_.max_processes, "");
    if (run.failure != "" || run.out != "42\n")
      problem = str("a test run printed '", run.out, "' and failed with '", run.failure,
                    "': ", last_line(run.err));
  } catch (const Error& e) {
    problem = e.what();
  }
  if (problem.empty()) return;
  pool_.reset();
  warn_once("code-sandbox-prestart",
            str("WARNING: code reward sandbox: the pre-started interpreter does not work here (",
                problem, "); each test starts its own sandbox (reward.code.prestart = false)"));
}

SandboxRun Sandbox::run(const std::string& program, const std::string& harness_mode,
                        const std::string& stdin_data) const {
  ACERL_CHECK(harness_mode == "stdio" || harness_mode == "call",
              "code sandbox: unknown harness mode ", harness_mode);
  // Without a user namespace and without the switch to nobody, RLIMIT_NPROC would count the
  // caller's own threads: the fallback for a non-root caller goes without it.
  bool nproc_meaningful = mode_ == SandboxMode::bwrap || running_as_root();
  int nproc = nproc_meaningful ? limits_.max_processes : 0;
  if (pool_) return execute_prestarted(program, harness_mode, nproc, stdin_data);
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

ChildSpec Sandbox::bwrap_spec(bool program_fd,
                              const std::vector<std::string>& python_args) const {
  ChildSpec spec;
  // --as-pid-1: the program itself is the PID namespace's init. With bwrap's own init in between,
  // bwrap exits as soon as the program does and leaves its init to the system's init to reap.
  // --unshare-user (also in --unshare-all, but only as "try") is what --disable-userns needs.
  spec.argv = {bwrap_,
               "--unshare-all",
               "--unshare-user",
               "--disable-userns",
               "--assert-userns-disabled",
               "--as-pid-1",
               "--die-with-parent",
               "--new-session",
               "--cap-drop",
               "ALL"};
  for (auto& a : system_binds(python_)) spec.argv.push_back(std::move(a));
  // /dev read-only: its tmpfs (with /dev/shm in it) has no size limit; the device nodes stay
  // usable. / read-only last, once every mount point is made; /tmp, its own mount, stays writable.
  for (const char* a : {"--proc", "/proc", "--dev", "/dev", "--remount-ro", "/dev", "--size"})
    spec.argv.push_back(a);
  spec.argv.push_back(std::to_string(kTmpfsBytes));
  spec.argv.insert(spec.argv.end(), {"--tmpfs", "/tmp"});
  if (program_fd) spec.argv.insert(spec.argv.end(), {"--file", "3", "/tmp/main.py"});
  for (const char* a : {"--remount-ro", "/", "--info-fd", "4", "--chdir", "/tmp"})
    spec.argv.push_back(a);
  if (!sandbox_seccomp_filter().empty()) spec.argv.insert(spec.argv.end(), {"--seccomp", "5"});
  spec.argv.push_back("--");
  spec.argv.push_back(python_);
  spec.argv.insert(spec.argv.end(), python_args.begin(), python_args.end());
  spec.env = child_env("/tmp");
  spec.limits = child_limits(limits_);
  spec.drop_root = true;
  return spec;
}

SandboxRun Sandbox::execute_bwrap(const std::string& program,
                                  const std::vector<std::string>& python_args,
                                  const std::string& stdin_data) const {
  UniqueFd memfd = memfd_holding("acerl-main.py", program.data(), program.size());
  const auto& filter = sandbox_seccomp_filter();
  UniqueFd seccomp =
      memfd_holding("acerl-seccomp", filter.data(), filter.size() * sizeof filter[0]);
  int info[2];
  ACERL_CHECK(pipe2(info, O_CLOEXEC) == 0, "code sandbox: pipe2 failed");
  UniqueFd info_read(info[0]), info_write(info[1]);
  ChildSpec spec = bwrap_spec(true, python_args);
  // fd 3 = the program, fd 4 = the info pipe, fd 5 = the seccomp filter.
  spec.pass_fds = {memfd.get(), info_write.get(), seccomp.get()};
  spec.bwrap_info_fd = info_read.get();
  ChildIo io;
  io.stdin_data = stdin_data;
  io.max_stdout = io.max_stderr = static_cast<size_t>(limits_.max_output_kb) << 10;
  io.timeout_s = limits_.timeout_s;
  return to_run(run_child(spec, io), true);
}

// The idle pre-started interpreters: a run takes one (or starts one), and gives it back when
// the run left it as it was.
struct Sandbox::InterpreterPool {
  std::mutex mutex;
  std::vector<std::unique_ptr<PrestartedInterpreter>> idle;

  std::unique_ptr<PrestartedInterpreter> take() {
    std::lock_guard<std::mutex> lock(mutex);
    if (idle.empty()) return nullptr;
    auto out = std::move(idle.back());
    idle.pop_back();
    return out;
  }
  void give(std::unique_ptr<PrestartedInterpreter> interpreter) {
    std::lock_guard<std::mutex> lock(mutex);
    idle.push_back(std::move(interpreter));
  }
};

void Sandbox::release_idle() const {
  if (!pool_) return;
  std::vector<std::unique_ptr<PrestartedInterpreter>> idle;
  {
    std::lock_guard<std::mutex> lock(pool_->mutex);
    idle.swap(pool_->idle);
  }
}

SandboxRun Sandbox::execute_prestarted(const std::string& program,
                                       const std::string& harness_mode, int nproc,
                                       const std::string& stdin_data) const {
  ChildIo io;
  io.stdin_data = stdin_data;
  io.max_stdout = io.max_stderr = static_cast<size_t>(limits_.max_output_kb) << 10;
  io.timeout_s = limits_.timeout_s;
  const uint64_t memory = static_cast<uint64_t>(limits_.memory_mb) << 20;
  const auto cpu = static_cast<uint64_t>(std::ceil(limits_.timeout_s)) + 1;
  // The interpreter is a process of the sandbox's user too: the run keeps its max_processes.
  if (nproc > 0) ++nproc;
  // One retry on a new interpreter: an idle one may have died since its last run.
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<PrestartedInterpreter> interpreter;
    if (attempt == 0) interpreter = pool_->take();
    try {
      if (!interpreter) {
        const auto& filter = sandbox_seccomp_filter();
        UniqueFd seccomp;
        if (!filter.empty())
          seccomp = memfd_holding("acerl-seccomp", filter.data(), filter.size() * sizeof filter[0]);
        int info[2];
        ACERL_CHECK(pipe2(info, O_CLOEXEC) == 0, "code sandbox: pipe2 failed");
        UniqueFd info_read(info[0]), info_write(info[1]);
        ChildSpec spec = bwrap_spec(false, {"-I", "-c", code_prestart_source()});
        // The interpreter lives across runs: its CPU time is not a run's (each child gets its
        // own RLIMIT_CPU).
        spec.limits.erase(std::remove_if(spec.limits.begin(), spec.limits.end(),
                                         [](const ChildLimit& l) { return l.resource == RLIMIT_CPU; }),
                          spec.limits.end());
        interpreter = std::make_unique<PrestartedInterpreter>(
            std::move(spec), std::move(info_read), std::move(info_write), std::move(seccomp),
            std::max(limits_.timeout_s, kProbeTimeoutS));
      }
      PrestartedRun run = interpreter->run(program, harness_mode, nproc, memory, cpu, io);
      if (run.reusable) pool_->give(std::move(interpreter));
      // The program is not the PID namespace's init here: its status is its own.
      return to_run(run.result, false);
    } catch (const Error&) {
      if (attempt > 0) throw;
    }
  }
}

SandboxRun Sandbox::execute_rlimit(const std::string& program,
                                   const std::vector<std::string>& python_args,
                                   const std::string& stdin_data) const {
  ScratchDir dir(running_as_root());
  dir.write_program(program);
  UniqueFd ruleset;
  if (landlock_abi_ > 0) ruleset = landlock_ruleset(readable_dirs(python_), dir.path());
  ChildSpec spec;
  spec.argv = {python_};
  spec.argv.insert(spec.argv.end(), python_args.begin(), python_args.end());
  spec.env = child_env(dir.path());
  spec.cwd = dir.path();
  spec.limits = child_limits(limits_);
  spec.drop_root = true;
  spec.landlock_ruleset_fd = ruleset.get();
  if (!sandbox_seccomp_filter().empty()) spec.seccomp_filter = &sandbox_seccomp_filter();
  ChildIo io;
  io.stdin_data = stdin_data;
  io.max_stdout = io.max_stderr = static_cast<size_t>(limits_.max_output_kb) << 10;
  io.timeout_s = limits_.timeout_s;
  return to_run(run_child(spec, io), false);
}

}  // namespace acerl::reward
