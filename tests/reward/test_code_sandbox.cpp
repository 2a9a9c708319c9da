// Code sandbox: hostile programs are contained, scored with the right reason, and leave the test
// process (the stand-in for the training job) running, with its files intact, no child or fd
// left behind. Run in bubblewrap mode (skipped with a warning where bubblewrap cannot run) and
// in the rlimit fallback for the protections that mode has.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "reward/code_process.h"
#include "reward/code_sandbox.h"
#include "support/process.h"

using namespace acerl;
using namespace acerl::reward;

namespace {

SandboxLimits small_limits() {
  SandboxLimits l;
  l.timeout_s = 1.5;
  l.memory_mb = 512;
  l.max_output_kb = 64;
  l.max_processes = 16;
  return l;
}

// The bwrap sandbox, or nullptr (with a warning) where bubblewrap cannot run.
std::unique_ptr<Sandbox> bwrap_sandbox(SandboxLimits limits = small_limits()) {
  auto sandbox = std::make_unique<Sandbox>("/usr/bin/python3", "auto", limits);
  if (sandbox->mode() == SandboxMode::bwrap) return sandbox;
  WARN("bubblewrap cannot run here: bwrap-mode checks skipped");
  return nullptr;
}

Sandbox rlimit_sandbox(SandboxLimits limits = small_limits()) {
  return Sandbox("/usr/bin/python3", "rlimit", limits);
}

int count_open_fds() {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) (void)e, ++n;
  return n;
}

// Processes whose parent is this test process (zombies included), and processes anywhere on
// the machine still running the code harness (a sandbox leftover).
int count_children() {
  int n = 0;
  std::string self = std::to_string(getpid());
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string state, ppid;
    rest >> state >> ppid;
    if (ppid == self) ++n;
  }
  return n;
}

// Zombies whose parent is the system's init and whose user is the sandbox's (nobody when the
// tests run as root): what a sandbox that lets its processes be orphaned would leave for init
// to reap. Other users' processes on a shared machine do not count.
std::set<std::string> orphan_zombies() {
  const std::string sandbox_uid = std::to_string(running_as_root() ? 65534 : getuid());
  std::set<std::string> out;
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream status(e.path() / "status");
    std::string line, state, ppid, uid;
    while (std::getline(status, line)) {
      std::istringstream fields(line);
      std::string key;
      fields >> key;
      if (key == "State:") fields >> state;
      if (key == "PPid:") fields >> ppid;
      if (key == "Uid:") fields >> uid;
    }
    if (state == "Z" && ppid == "1" && uid == sandbox_uid) out.insert(e.path().filename().string());
  }
  return out;
}

int count_harness_processes() {
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (text.find("acerl harness") != std::string::npos) ++n;
  }
  return n;
}

// Leftovers may take a moment to be torn down by the kernel after bwrap is reaped.
int harness_processes_after_settling() {
  for (int i = 0; i < 40 && count_harness_processes() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return count_harness_processes();
}

// Runs `program` and checks what every hostile run must leave behind: no child, no extra fd,
// no sandbox process.
SandboxRun run_contained(const Sandbox& sandbox, const std::string& program,
                         const std::string& input = "") {
  int fds = count_open_fds();
  std::set<std::string> zombies = orphan_zombies();
  SandboxRun run = sandbox.run(program, "stdio", input);
  std::set<std::string> new_zombies;
  for (const auto& pid : orphan_zombies())
    if (!zombies.count(pid)) new_zombies.insert(pid);
  INFO("stdout: " << run.out.substr(0, 300) << "\nstderr: " << run.err.substr(0, 600));
  CHECK(count_children() == 0);
  // The fallback cannot keep a program's orphans from the system's init; bwrap mode does.
  if (sandbox.mode() == SandboxMode::bwrap) CHECK(new_zombies.empty());
  CHECK(count_open_fds() == fds);
  CHECK(harness_processes_after_settling() == 0);
  // Killing must not wait for the program: well under the timeout + a generous margin.
  CHECK(run.seconds < sandbox.limits().timeout_s + 5);
  return run;
}

std::string random_token() {
  std::random_device rd;
  return "S" + std::to_string(rd()) + std::to_string(rd());
}

// A TCP listener on 127.0.0.1 (ephemeral port) that reports whether anyone connected.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(listen(fd_, 8) == 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  int port() const { return port_; }
  bool connected() {
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    close(c);
    return true;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

const char* kForkBomb = R"(
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
)";

const char* kKillParent = R"(
import os, signal
caller = int(input())
for target in (os.getppid(), caller, 1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError as e:
        print("kill", target, type(e).__name__, flush=True)
try:
    os.kill(-1, signal.SIGKILL)
except OSError as e:
    print("kill -1", type(e).__name__, flush=True)
print("still here", flush=True)
)";

std::string write_outside_program(const std::string& dir, const std::string& host_tmp_file) {
  return "import os\n"
         "for path in [" +
         test::quote(dir + "/pwned") + ", '/work/pwned-by-sandbox', " + test::quote(host_tmp_file) +
         "]:\n"
         "    try:\n"
         "        open(path, 'w').write('x')\n"
         "        print('wrote', path)\n"
         "    except OSError as e:\n"
         "        print('denied', path, type(e).__name__)\n";
}

}  // namespace

TEST_CASE("a trivial program runs in the sandbox", "[code]") {
  for (bool bwrap : {true, false}) {
    std::unique_ptr<Sandbox> sandbox =
        bwrap ? bwrap_sandbox() : std::make_unique<Sandbox>(rlimit_sandbox());
    if (!sandbox) continue;
    SandboxRun run = run_contained(
        *sandbox, "import sys\nprint(sum(map(int, sys.stdin.read().split())))", "1 2 3\n");
    CHECK(run.failure == "");
    CHECK(run.out == "6\n");
    // A large input is fed without deadlock while the program writes as much back.
    std::string big(3 << 20, 'a');
    run = sandbox->run("import sys\nd = sys.stdin.read()\nprint(len(d))", "stdio", big);
    CHECK(run.out == std::to_string(big.size()) + "\n");
    // A program that never reads its stdin does not block the feeder (nor SIGPIPE the caller).
    run = sandbox->run("print('ignored input')", "stdio", big);
    CHECK(run.failure == "");
    CHECK(run.out == "ignored input\n");
    // Script semantics: __main__ is the program's module (pickle finds its classes), argv[0].
    run = sandbox->run(
        "import pickle, sys\nclass P:\n    pass\nif __name__ == '__main__':\n"
        "    print(sys.argv, type(pickle.loads(pickle.dumps(P()))).__name__)\n",
        "stdio", "");
    CHECK(run.out == "['main.py'] P\n");
    run = sandbox->run("raise ValueError('boom')", "stdio", "");
    CHECK(run.failure == "runtime_error");
    CHECK(run.err.find("ValueError: boom") != std::string::npos);
  }
}

TEST_CASE("bwrap: fork bomb, infinite loop, sleep, memory and output bombs are contained",
          "[code]") {
  auto sandbox = bwrap_sandbox();
  if (!sandbox) return;
  CHECK(run_contained(*sandbox, kForkBomb).failure == "timeout");
  CHECK(run_contained(*sandbox, "while True:\n    pass\n").failure == "timeout");
  CHECK(run_contained(*sandbox, "import time\ntime.sleep(60)\n").failure == "timeout");
  CHECK(run_contained(*sandbox, "x = bytearray(4 << 30)\n").failure == "memory");
  CHECK(run_contained(*sandbox, "l = []\nwhile True:\n    l.append(' ' * 10**7)\n").failure ==
        "memory");
  SandboxRun flood =
      run_contained(*sandbox, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n");
  CHECK(flood.failure == "output_limit");
  CHECK(flood.out.size() == 64u << 10);
  CHECK(run_contained(*sandbox, "import sys\nwhile True:\n    sys.stderr.write('e' * 65536)\n")
            .failure == "output_limit");
  // A file larger than RLIMIT_FSIZE in the sandbox's own /tmp.
  CHECK(run_contained(*sandbox, "open('big', 'wb').write(b'0' * (64 << 20))\n").failure ==
        "output_limit");
}

TEST_CASE("bwrap: processes cannot multiply past max_processes", "[code]") {
  auto sandbox = bwrap_sandbox();
  if (!sandbox) return;
  SandboxRun run = run_contained(*sandbox, R"(
import os, time
n = 0
for i in range(100):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(5)
        os._exit(0)
    n += 1
print(n)
)");
  CHECK(run.failure == "");
  // 16 tasks for the user of the sandbox: this process (its PID 1) and 15 children.
  CHECK(run.out == "15\n");
}

TEST_CASE("bwrap: background processes die with the program", "[code]") {
  auto sandbox = bwrap_sandbox();
  if (!sandbox) return;
  SandboxRun run = run_contained(*sandbox, R"(
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(30)
    os._exit(0)
print("parent done")
)");
  CHECK(run.failure == "");
  CHECK(run.out == "parent done\n");
}

TEST_CASE("bwrap: no writes outside, no reads of the caller's files, no network", "[code]") {
  auto sandbox = bwrap_sandbox();
  if (!sandbox) return;
  std::string dir = test::scratch_dir("code-sandbox-files");
  std::string secret = random_token();
  std::string checkpoint = dir + "/checkpoint.h5";
  std::ofstream(checkpoint) << secret;
  chmod(checkpoint.c_str(), 0644);  // world-readable, as checkpoints usually are
  std::string host_tmp = "/tmp/acerl-pwned-" + random_token();

  SandboxRun write = run_contained(*sandbox, write_outside_program(dir, host_tmp));
  CHECK(write.out.find("denied " + dir) != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir + "/pwned"));
  CHECK_FALSE(std::filesystem::exists("/work/pwned-by-sandbox"));
  CHECK_FALSE(std::filesystem::exists(host_tmp));  // the sandbox's /tmp is its own

  std::string read_program =
      "import os\n"
      "for path in [" +
      test::quote(checkpoint) + ", '/proc/" + std::to_string(getpid()) +
      "/environ']:\n"
      "    try:\n"
      "        print(open(path).read())\n"
      "    except OSError as e:\n"
      "        print('denied', type(e).__name__)\n"
      "print(os.listdir('/'))\n";
  SandboxRun read = run_contained(*sandbox, read_program);
  CHECK(read.out.find(secret) == std::string::npos);
  CHECK(read.out.find("denied FileNotFoundError") != std::string::npos);
  CHECK(read.out.find("'work'") == std::string::npos);
  std::ifstream still(checkpoint);
  std::string content((std::istreambuf_iterator<char>(still)), std::istreambuf_iterator<char>());
  CHECK(content == secret);

  Listener listener;
  SandboxRun net =
      run_contained(*sandbox,
                    "import socket\ntry:\n"
                    "    socket.create_connection(('127.0.0.1', " +
                        std::to_string(listener.port()) +
                        "), timeout=1)\n    print('connected')\n"
                        "except OSError as e:\n    print('refused', type(e).__name__)\n");
  CHECK(net.out.find("refused") != std::string::npos);
  CHECK_FALSE(listener.connected());
}

TEST_CASE("bwrap: killing the parent, pid 1 or everything leaves the caller alive", "[code]") {
  auto sandbox = bwrap_sandbox();
  if (!sandbox) return;
  SandboxRun run = run_contained(*sandbox, kKillParent, std::to_string(getpid()) + "\n");
  // Inside its PID namespace the program's parent is the sandbox's PID 1; whatever it killed
  // there, this process was out of reach and is still running this line.
  CHECK(getppid() > 0);
  CHECK(run.out.find(std::to_string(getpid()) + " ProcessLookupError") != std::string::npos);
}

TEST_CASE("rlimit fallback: loops, sleep, memory and output are contained", "[code]") {
  Sandbox sandbox = rlimit_sandbox();
  REQUIRE(sandbox.mode() == SandboxMode::rlimit);
  CHECK(run_contained(sandbox, "while True:\n    pass\n").failure == "timeout");
  CHECK(run_contained(sandbox, "import time\ntime.sleep(60)\n").failure == "timeout");
  CHECK(run_contained(sandbox, "x = bytearray(4 << 30)\n").failure == "memory");
  CHECK(run_contained(sandbox, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
            .failure == "output_limit");
  // Children in the program's process group are killed with it.
  CHECK(run_contained(sandbox,
                      "import os, time\nif os.fork() == 0:\n    time.sleep(30)\n"
                      "print('done')\n")
            .out == "done\n");
  // The scratch directory of the run is gone afterwards.
  SandboxRun where = run_contained(sandbox, "import os\nprint(os.getcwd())\n");
  std::string cwd = where.out.substr(0, where.out.find('\n'));
  CHECK(cwd.find("acerl-code-") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(cwd));
}

TEST_CASE("rlimit fallback as root: runs as nobody, so the caller and its files are safe",
          "[code]") {
  if (!running_as_root()) {
    WARN("not root: the fallback cannot change identity, these protections do not apply");
    return;
  }
  Sandbox sandbox = rlimit_sandbox();
  CHECK(run_contained(sandbox, kForkBomb).failure == "timeout");
  SandboxRun kill = run_contained(sandbox, kKillParent, std::to_string(getpid()) + "\n");
  CHECK(kill.out.find(std::to_string(getpid()) + " PermissionError") != std::string::npos);

  std::string dir = test::scratch_dir("code-sandbox-fallback");
  std::string secret = random_token();
  std::string checkpoint = dir + "/checkpoint.h5";
  std::ofstream(checkpoint) << secret;
  chmod(checkpoint.c_str(), 0600);
  std::string host_tmp = "/tmp/acerl-pwned-" + random_token();
  SandboxRun write = run_contained(sandbox, write_outside_program(dir, host_tmp));
  CHECK(write.out.find("denied " + dir + "/pwned PermissionError") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir + "/pwned"));
  CHECK_FALSE(std::filesystem::exists("/work/pwned-by-sandbox"));
  std::filesystem::remove(host_tmp);  // /tmp is shared in this mode: writable by anyone
  SandboxRun read = run_contained(
      sandbox, "try:\n    print(open(" + test::quote(checkpoint) +
                   ").read())\nexcept OSError as e:\n    print('denied', type(e).__name__)\n");
  CHECK(read.out == "denied PermissionError\n");
}

TEST_CASE("sandbox configuration errors name the key", "[code]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(Sandbox("python3", "auto", {}), Contains("reward.code.python"));
  CHECK_THROWS_WITH(Sandbox("/nonexistent/python3", "auto", {}), Contains("reward.code.python"));
  CHECK_THROWS_WITH(Sandbox("/usr/bin/python3", "docker", {}),
                    Contains("reward.code.sandbox") && Contains("auto, bwrap, rlimit"));
}

TEST_CASE("without bubblewrap, auto falls back and bwrap is a usage error", "[code]") {
  using Catch::Matchers::Contains;
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", "/nonexistent", 1);  // no bwrap to be found
  SandboxMode fallback = SandboxMode::bwrap;
  CHECK_NOTHROW(fallback = Sandbox("/usr/bin/python3", "auto", small_limits()).mode());
  CHECK(fallback == SandboxMode::rlimit);
  CHECK_THROWS_WITH(Sandbox("/usr/bin/python3", "bwrap", small_limits()),
                    Contains("reward.code.sandbox = bwrap") && Contains("not installed"));
  setenv("PATH", saved.c_str(), 1);
}
