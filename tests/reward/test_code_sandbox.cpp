// Code sandbox: hostile programs are contained, scored with the right reason, and leave the test
// process (the stand-in for the training job) running, with its files intact, no child or fd
// left behind. Run in bubblewrap mode (skipped with a warning where bubblewrap cannot run) and
// in the rlimit fallback for the protections that mode has.
#include "support/catch.h"

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

#include "reward/code_landlock.h"
#include "reward/code_process.h"
#include "reward/code_sandbox.h"
#include "runtime/error.h"
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

// The bwrap sandbox. Where bubblewrap cannot run that is a test failure, since the setup script
// installs it; ACERL_TEST_NO_BWRAP=1 (a machine without user namespaces) turns it into a
// reported skip of the bwrap-mode checks: nullptr, with a warning.
// `prestart`: runs fork from a pre-started interpreter (reward.code.prestart), which must work
// wherever bubblewrap does.
std::unique_ptr<Sandbox> bwrap_sandbox(SandboxLimits limits = small_limits(),
                                       bool prestart = false) {
  try {
    auto sandbox = std::make_unique<Sandbox>("/usr/bin/python3", "bwrap", limits, false, prestart);
    if (prestart) REQUIRE(sandbox->prestarted());
    return sandbox;
  } catch (const UsageError& e) {
    const char* opt_out = std::getenv("ACERL_TEST_NO_BWRAP");
    if (opt_out && std::string(opt_out) == "1") {
      WARN("SKIPPED (ACERL_TEST_NO_BWRAP=1): bwrap-mode checks, because " << e.what());
      return nullptr;
    }
    FAIL(
        "bubblewrap cannot run here (set ACERL_TEST_NO_BWRAP=1 to skip these checks on a "
        "machine without user namespaces): "
        << e.what());
  }
  return nullptr;
}

Sandbox rlimit_sandbox(SandboxLimits limits = small_limits()) {
  return Sandbox("/usr/bin/python3", "rlimit", limits, /*allow_unsafe=*/true);
}

// A field of /proc/meminfo, in KiB.
long meminfo_kb(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  long value = -1;
  std::string unit;
  while (in >> name >> value) {
    std::getline(in, unit);
    if (name == key + ":") return value;
  }
  return -1;
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

// The sandbox's user: nobody when the tests run as root.
std::string sandbox_uid() { return std::to_string(running_as_root() ? 65534 : getuid()); }

// State, PPid and (real) Uid of a /proc/PID entry; empty strings once the process is gone.
struct ProcStatus {
  std::string state, ppid, uid;
};
ProcStatus proc_status(const std::filesystem::path& proc_dir) {
  std::ifstream status(proc_dir / "status");
  ProcStatus out;
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "State:") fields >> out.state;
    if (key == "PPid:") fields >> out.ppid;
    if (key == "Uid:") fields >> out.uid;
  }
  return out;
}

// Zombies whose parent is the system's init and whose user is the sandbox's: what a sandbox that
// lets its processes be orphaned would leave for init to reap. Other users' processes on a
// shared machine do not count.
std::set<std::string> orphan_zombies() {
  const std::string uid = sandbox_uid();
  std::set<std::string> out;
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    ProcStatus p = proc_status(e.path());
    if (p.state == "Z" && p.ppid == "1" && p.uid == uid) out.insert(e.path().filename().string());
  }
  return out;
}

// Processes of the sandbox's user that belong to a run: harness processes (forks keep the
// command line) and dying ones (a zombie's command line is empty). While a killed fork bomb is
// torn down they still count against the user's RLIMIT_NPROC, which the rlimit fallback shares.
int count_harness_processes() {
  const std::string uid = sandbox_uid();
  int n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream cmd(e.path() / "cmdline");
    std::string text((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (text.find("acerl harness") != std::string::npos) {
      ++n;
      continue;
    }
    ProcStatus p = proc_status(e.path());
    if ((p.state == "Z" || p.state == "X") && p.uid == uid) ++n;
  }
  return n;
}

// Leftovers may take a moment to be torn down by the kernel after bwrap is reaped (a few
// seconds after a fork bomb on two cores).
int harness_processes_after_settling() {
  for (int i = 0; i < 200 && count_harness_processes() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return count_harness_processes();
}

// Runs `program` and checks what every hostile run must leave behind: no child, no extra fd,
// no sandbox process.
// With a pre-started interpreter the idle ones are ended before and after, so that what is
// counted is what the run left.
SandboxRun run_contained(const Sandbox& sandbox, const std::string& program,
                         const std::string& input = "") {
  sandbox.release_idle();
  int fds = count_open_fds();
  std::set<std::string> zombies = orphan_zombies();
  SandboxRun run = sandbox.run(program, "stdio", input);
  sandbox.release_idle();
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

// The last non-empty line of a program's stderr (the exception, or sys.exit's message).
std::string last_line(const std::string& text) {
  size_t end = text.find_last_not_of("\n ");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  return text.substr(start == std::string::npos ? 0 : start + 1,
                     end + 1 - (start == std::string::npos ? 0 : start + 1));
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

TEST_CASE("run_child leaves the caller's descriptors open (no second close behind its back)",
          "[code]") {
  // The info pipe's read end is the caller's: closing it in run_child as well made the caller's
  // own close hit whatever descriptor another thread had opened under that number meanwhile (a
  // sandbox of the parallel pool then failed with "fcntl(F_DUPFD_CLOEXEC): Bad file descriptor").
  int info[2];
  REQUIRE(pipe2(info, O_CLOEXEC) == 0);
  ChildSpec spec;
  spec.argv = {"/bin/sh", "-c", "exit 0"};
  spec.env = {"PATH=/usr/bin:/bin"};
  spec.pass_fds = {info[1]};
  spec.bwrap_info_fd = info[0];
  ChildResult r = run_child(spec, ChildIo{});
  CHECK(r.exit_code == 0);
  CHECK(fcntl(info[0], F_GETFD) != -1);  // still open: the caller closes it
  CHECK(fcntl(info[1], F_GETFD) != -1);
  close(info[0]);
  close(info[1]);
}

TEST_CASE("a trivial program runs in the sandbox", "[code]") {
  const bool prestart = GENERATE(false, true);
  for (bool bwrap : {true, false}) {
    if (prestart && !bwrap) continue;  // the fallback always starts one interpreter per run
    std::unique_ptr<Sandbox> sandbox =
        bwrap ? bwrap_sandbox(small_limits(), prestart) : std::make_unique<Sandbox>(rlimit_sandbox());
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
  const bool prestart = GENERATE(false, true);
  INFO("prestart = " << prestart);
  auto sandbox = bwrap_sandbox(small_limits(), prestart);
  if (!sandbox) return;
  CHECK(run_contained(*sandbox, kForkBomb).failure == "timeout");
  CHECK(run_contained(*sandbox, "while True:\n    pass\n").failure == "timeout");
  CHECK(run_contained(*sandbox, "import time\ntime.sleep(60)\n").failure == "timeout");
  CHECK(run_contained(*sandbox, "x = bytearray(4 << 30)\n").failure == "memory");
  SandboxRun growing = run_contained(*sandbox, "l = []\nwhile True:\n    l.append(' ' * 10**7)\n");
  INFO("stderr: " << growing.err);
  CHECK(growing.failure == "memory");
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
  const bool prestart = GENERATE(false, true);
  INFO("prestart = " << prestart);
  auto sandbox = bwrap_sandbox(small_limits(), prestart);
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
  const bool prestart = GENERATE(false, true);
  INFO("prestart = " << prestart);
  auto sandbox = bwrap_sandbox(small_limits(), prestart);
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
  const bool prestart = GENERATE(false, true);
  INFO("prestart = " << prestart);
  auto sandbox = bwrap_sandbox(small_limits(), prestart);
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
  const bool prestart = GENERATE(false, true);
  INFO("prestart = " << prestart);
  auto sandbox = bwrap_sandbox(small_limits(), prestart);
  if (!sandbox) return;
  SandboxRun run = run_contained(*sandbox, kKillParent, std::to_string(getpid()) + "\n");
  // Inside its PID namespace the program's parent is the sandbox's PID 1; whatever it killed
  // there, this process was out of reach and is still running this line.
  CHECK(getppid() > 0);
  CHECK(run.out.find(std::to_string(getpid()) + " ProcessLookupError") != std::string::npos);
}

TEST_CASE("prestart: a run ends as a fresh interpreter's would", "[code]") {
  // The independent truth is the per-run sandbox: a new interpreter for each program.
  auto fresh = bwrap_sandbox();
  auto forked = bwrap_sandbox(small_limits(), true);
  if (!fresh) return;
  const std::vector<std::pair<std::string, std::string>> programs = {
      {"import sys\nsys.stdout.write('no newline')", ""},
      {"import atexit\natexit.register(lambda: print('bye'))\nprint('hi')", ""},
      {"import threading, time\ndef f():\n    time.sleep(0.2)\n    print('thread')\n"
       "threading.Thread(target=f).start()\nprint('main')",
       ""},
      {"import sys\nprint('x')\nsys.exit(3)", ""},
      {"import sys\nsys.exit('fatal message')", ""},
      {"raise SystemExit(None)", ""},
      {"import os\nprint(os.getcwd(), __name__, sorted(os.listdir('.')))", ""},
      {"print(input())\nprint(input())", "only one line\n"},
      {"import json, collections\nprint(json.dumps(collections.Counter('abca')))", ""},
      {"def f(:\n", ""},
  };
  for (const auto& [program, input] : programs) {
    INFO("program:\n" << program);
    SandboxRun a = fresh->run(program, "stdio", input), b = forked->run(program, "stdio", input);
    INFO("fresh stderr: " << a.err << "\nforked stderr: " << b.err);
    CHECK(b.out == a.out);
    CHECK(b.exit_code == a.exit_code);
    CHECK(b.failure == a.failure);
    CHECK(last_line(b.err) == last_line(a.err));
  }
  SandboxRun call = forked->run("class Solution:\n    def f(self, x):\n        return sorted({x, 1})\n",
                                "call", R"({"fn_name": "f", "args": [3]})");
  CHECK(call.out == "[1, 3]\n");
}

TEST_CASE("prestart: no run sees what an earlier run left", "[code]") {
  auto sandbox = bwrap_sandbox(small_limits(), true);
  if (!sandbox) return;
  // Leaves a file, a daemon, and damage to a module the interpreter pre-imported.
  SandboxRun dirty = sandbox->run(R"(
import json, os, time
open('/tmp/left-behind', 'w').write('x')
json.dumps = None
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            open('/tmp/late-' + str(time.time()), 'w').write('x')
            time.sleep(0.01)
    os._exit(0)
print('dirty')
)",
                                  "stdio", "");
  CHECK(dirty.out == "dirty\n");
  // Attacks on the interpreter itself: its memory, its descriptors, its signals.
  SandboxRun attack = sandbox->run(R"(
import os, signal
for path in ('/proc/1/mem', '/proc/1/fd/3', '/proc/1/environ'):
    try:
        open(path, 'rb').read(1)
        print('opened', path)
    except OSError as e:
        print('denied', path, type(e).__name__)
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGKILL):
    os.kill(1, sig)
print('sent')
)",
                                   "stdio", "");
  INFO("attack: " << attack.out << attack.err);
  CHECK(attack.out.find("opened") == std::string::npos);
  CHECK(attack.out.find("sent") != std::string::npos);
  for (int i = 0; i < 3; ++i) {
    SandboxRun look = sandbox->run(R"(
import json, os
print(sorted(os.listdir('/tmp')), json.dumps([1]))
print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) == [1, os.getpid()])
)",
                                   "stdio", "");
    INFO("stderr: " << look.err);
    CHECK(look.failure == "");
    CHECK(look.out == "['main.py'] [1]\nTrue\n");
  }
  // A run cut short by its deadline is followed by a working one.
  CHECK(sandbox->run("while True:\n    pass\n", "stdio", "").failure == "timeout");
  CHECK(sandbox->run("print(2 + 2)", "stdio", "").out == "4\n");
  // Changes made to the interpreter from outside, or that break its sweep, retire it: the next
  // run gets a sandbox as new.
  for (const char* poison : {
           "import resource\nresource.prlimit(1, resource.RLIMIT_FSIZE, (0, 0))\n",
           "import resource\nresource.prlimit(1, resource.RLIMIT_NOFILE, (3, 3))\n",
           "import os\nos.setpriority(os.PRIO_PROCESS, 1, 19)\n",
           "import os\nos.sched_setaffinity(1, {min(os.sched_getaffinity(1))})\n",
           "import os\nos.chmod('/tmp', 0o300)\n",
       }) {
    INFO("after: " << poison);
    SandboxRun attempt = sandbox->run(poison, "stdio", "");
    INFO("its stderr: " << attempt.err);
    SandboxRun next = sandbox->run("import os, resource\n"
                                   "print(resource.getrlimit(resource.RLIMIT_FSIZE)[0] > 0,"
                                   " os.getpriority(os.PRIO_PROCESS, 0),"
                                   " len(os.sched_getaffinity(0)) == os.cpu_count(),"
                                   " sorted(os.listdir('/tmp')))\n",
                                   "stdio", "");
    INFO("next stderr: " << next.err);
    CHECK(next.failure == "");
    CHECK(next.out == "True 0 True ['main.py']\n");
  }
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

TEST_CASE("without bubblewrap, auto and rlimit refuse unless allow_unsafe, bwrap is an error",
          "[code]") {
  using Catch::Matchers::Contains;
  std::string saved = std::getenv("PATH") ? std::getenv("PATH") : "";
  setenv("PATH", "/nonexistent", 1);  // no bwrap to be found
  CHECK_THROWS_WITH(Sandbox("/usr/bin/python3", "auto", small_limits()),
                    Contains("reward.code.sandbox = auto") && Contains("not installed") &&
                        Contains("reward.code.allow_unsafe = true") &&
                        Contains("apt install bubblewrap"));
  SandboxMode fallback = SandboxMode::bwrap;
  CHECK_NOTHROW(fallback = Sandbox("/usr/bin/python3", "auto", small_limits(), true).mode());
  CHECK(fallback == SandboxMode::rlimit);
  CHECK_THROWS_WITH(Sandbox("/usr/bin/python3", "bwrap", small_limits(), true),
                    Contains("reward.code.sandbox = bwrap") && Contains("not installed") &&
                        Contains("apt install bubblewrap"));
  setenv("PATH", saved.c_str(), 1);
  CHECK_THROWS_WITH(
      Sandbox("/usr/bin/python3", "rlimit", small_limits()),
      Contains("reward.code.sandbox = rlimit") && Contains("reward.code.allow_unsafe = true"));
}

namespace {

// Tries to fill /dev/shm and the root with 64 files of 15 MiB (just under RLIMIT_FSIZE), and the
// sandbox's /tmp with 2000 files of 1 MiB, to open a nested user namespace (the syscall, and
// util-linux's unshare), and to read a file of expected outputs. Prints one line per attempt:
// "<what> <bytes written or outcome>".
std::string hostile_program(const std::string& expected_file) {
  return R"(
import ctypes, os, subprocess
MB = b'x' * (1 << 20)
def fill(path, files, per_file):
    written = 0
    try:
        for i in range(files):
            with open(os.path.join(path, 'f%d' % i), 'wb') as f:
                for _ in range(per_file):
                    f.write(MB)
                    written += len(MB)
    except OSError:
        pass
    return written
print('shm', fill('/dev/shm', 64, 15), flush=True)
print('root', fill('/', 64, 15), flush=True)
print('tmp', fill('/tmp', 2000, 1), flush=True)
libc = ctypes.CDLL(None, use_errno=True)
print('unshare', 'ok' if libc.unshare(0x10000000) == 0 else 'errno%d' % ctypes.get_errno(), flush=True)
try:
    r = subprocess.run(['unshare', '-U', 'true'], capture_output=True)
    print('unshare-cmd', 'ok' if r.returncode == 0 else 'failed', flush=True)
except OSError as e:
    print('unshare-cmd', type(e).__name__, flush=True)
try:
    print('expected', open()" +
         test::quote(expected_file) + R"().read(), flush=True)
except OSError as e:
    print('expected', type(e).__name__, flush=True)
)";
}

// The value printed after `key` by hostile_program, or "" when the line is missing.
std::string field(const std::string& out, const std::string& key) {
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line))
    if (line.rfind(key + " ", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

}  // namespace

TEST_CASE(
    "bwrap and the Landlock fallback: a program cannot fill the node's memory, nest a user "
    "namespace or read the expected outputs",
    "[code]") {
  const std::string dir = test::scratch_dir("code-sandbox-hostile");
  const std::string secret = random_token();
  const std::string expected = dir + "/code_prompts.jsonl";
  std::ofstream(expected) << "{\"tests\": [{\"input\": \"1\", \"output\": \"" << secret
                          << "\"}]}\n";
  chmod(expected.c_str(), 0644);  // world-readable, as data files usually are
  chmod(dir.c_str(), 0755);
  SandboxLimits limits = small_limits();
  limits.timeout_s = 20;  // 2000 file creations take a while on a slow disk-backed /tmp
  std::vector<std::unique_ptr<Sandbox>> sandboxes;
  if (auto b = bwrap_sandbox(limits)) sandboxes.push_back(std::move(b));
  if (landlock_abi() > 0) {
    sandboxes.push_back(std::make_unique<Sandbox>(rlimit_sandbox(limits)));
  } else {
    WARN(
        "SKIPPED: the rlimit fallback's part, this kernel has no Landlock (the fallback then "
        "exposes every readable file, as its warning says)");
  }
  for (const auto& sandbox : sandboxes) {
    const bool bwrap = sandbox->mode() == SandboxMode::bwrap;
    INFO("mode " << sandbox_mode_name(sandbox->mode()));
    const long shmem_before = meminfo_kb("Shmem"), available_before = meminfo_kb("MemAvailable");
    REQUIRE(shmem_before >= 0);
    SandboxRun run = run_contained(*sandbox, hostile_program(expected));
    const long shmem_after = meminfo_kb("Shmem"), available_after = meminfo_kb("MemAvailable");
    INFO("out:\n"
         << run.out << "Shmem " << shmem_before << " -> " << shmem_after << " KiB, MemAvailable "
         << available_before << " -> " << available_after);
    CHECK(run.failure == "");
    CHECK(field(run.out, "shm") == "0");
    CHECK(field(run.out, "root") == "0");
    // bwrap: the private /tmp holds at most its 64 MiB. The fallback writes only into its
    // scratch directory on disk, at most RLIMIT_FSIZE per file; it is removed afterwards.
    const std::string tmp = field(run.out, "tmp");
    REQUIRE_FALSE(tmp.empty());
    if (bwrap) CHECK(std::stoll(tmp) <= (64ll << 20));
    CHECK(field(run.out, "unshare") == "errno1");  // EPERM
    CHECK(field(run.out, "unshare-cmd") != "ok");
    CHECK(field(run.out, "expected").rfind(bwrap ? "FileNotFoundError" : "PermissionError", 0) ==
          0);
    CHECK(run.out.find(secret) == std::string::npos);
    // Nothing the program wrote outlives it in the node's memory: shared memory (tmpfs, /dev/shm)
    // back where it was, within noise, and the free memory not 1 GiB lower.
    CHECK(shmem_after - shmem_before < 32 * 1024);
    CHECK(available_before - available_after < 1024 * 1024);
    for (const char* leftover : {"/dev/shm/f0", "/f0"})
      CHECK_FALSE(std::filesystem::exists(leftover));
  }
}

TEST_CASE("the seccomp filter refuses what the sandbox forbids and leaves normal programs alone",
          "[code]") {
  std::vector<std::unique_ptr<Sandbox>> sandboxes;
  if (auto b = bwrap_sandbox()) sandboxes.push_back(std::move(b));
  sandboxes.push_back(std::make_unique<Sandbox>(rlimit_sandbox()));
  for (const auto& sandbox : sandboxes) {
    INFO("mode " << sandbox_mode_name(sandbox->mode()));
    SandboxRun run = run_contained(*sandbox, R"(
import ctypes, os, threading
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    r = getattr(libc, name)(*args)
    return 'ok' if r >= 0 else 'errno%d' % ctypes.get_errno()
print('memfd', call('memfd_create', b'x', 0))
print('shmget', call('shmget', 0, 1 << 20, 0o1600))
print('msgget', call('msgget', 0, 0o1600))
print('semget', call('semget', 0, 1, 0o1600))
print('mq_open', call('mq_open', b'/acerl-q', 0o100 | 0o2, 0o600, None))
t = threading.Thread(target=lambda: None); t.start(); t.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
print('fork', os.waitpid(pid, 0)[1] >> 8)
print('threads ok')
)");
    INFO("stdout: " << run.out << "\nstderr: " << run.err);
    CHECK(run.failure == "");
    CHECK(field(run.out, "memfd") == "errno1");
    CHECK(field(run.out, "shmget") == "errno1");
    CHECK(field(run.out, "msgget") == "errno1");
    CHECK(field(run.out, "semget") == "errno1");
    CHECK(field(run.out, "mq_open") == "errno1");
    CHECK(field(run.out, "fork") == "7");
    CHECK(run.out.find("threads ok") != std::string::npos);
  }
}

TEST_CASE("bwrap's child-pid report is parsed without throwing, garbage gives 0", "[code]") {
  // The shape bwrap --info-fd writes, whole and cut short.
  CHECK(parse_bwrap_child_pid("{\n    \"child-pid\": 4242\n}\n") == 4242);
  CHECK(parse_bwrap_child_pid("{\n    \"child-pid\": 42") == 0);  // more digits may follow
  CHECK(parse_bwrap_child_pid("{\n    \"child-pid\": ") == 0);
  CHECK(parse_bwrap_child_pid("") == 0);
  // Not a PID: longer than any pid_max allows (std::stol would throw out_of_range here).
  CHECK(parse_bwrap_child_pid("{\"child-pid\": 123456789012345678901234567890}") == 0);
  CHECK(parse_bwrap_child_pid("{\"child-pid\": \"12\"}") == 0);
}
