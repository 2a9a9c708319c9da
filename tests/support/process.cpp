// Process helpers for tests; see process.h.
#include "support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "support/catch.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace acerl::test {

namespace {
// The configured path, unless the environment moves it: tools/gpu_check.sh runs the tests built
// here on another machine, where the checkout, the build and the Python live elsewhere.
std::string configured(const char* env, const char* built_in) {
  const char* value = std::getenv(env);
  return value && *value ? value : built_in;
}
}  // namespace

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_launcher_variable(const char* entry) {
  for (const char* prefix : {"OMPI_", "PMIX_", "PMI_", "HYDRA_", "MPI_LOCALRANKID", "I_MPI_"})
    if (std::strncmp(entry, prefix, std::strlen(prefix)) == 0) return true;
  return false;
}

}  // namespace

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(var)) return true;
  return false;
}

ProcessResult run_process(const std::string& command, double timeout_seconds) {
  static int counter = 0;
  std::filesystem::path dir =
      std::filesystem::path(configured("ACERL_TEST_BINARY_DIR", ACERL_BINARY_DIR)) / "test-tmp" /
      "processes";
  std::filesystem::create_directories(dir);
  std::string base = (dir / (std::to_string(getpid()) + "_" + std::to_string(counter++))).string();
  std::string out_path = base + ".out", err_path = base + ".err";
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    std::vector<std::string> drop;
    for (char** e = environ; *e; ++e)
      if (is_launcher_variable(*e)) drop.emplace_back(*e, std::strchr(*e, '=') - *e);
    for (const auto& name : drop) unsetenv(name.c_str());
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, 1);
    dup2(err, 2);
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  setpgid(pid, pid);
  ProcessResult result;
  int status = 0;
  while (true) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (done == pid) break;
    if (result.seconds > timeout_seconds) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(out_path);
  result.err = slurp(err_path);
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return result;
}

std::string python() {
  std::string py = configured("ACERL_TEST_PYTHON", ACERL_TEST_PYTHON);
  INFO("configure with -DACERL_PYTHON=<venv>/bin/python (tools/setup.sh does)");
  REQUIRE(!py.empty());
  return py;
}

ProcessResult run_python(const std::string& args, double timeout_seconds) {
  return run_process(quote(python()) + " " + args, timeout_seconds);
}

std::string mpiexec(int ranks) {
  return std::string(ACERL_TEST_MPIEXEC) + " -n " + std::to_string(ranks);
}

std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string source_path(const std::string& relative) {
  return configured("ACERL_TEST_SOURCE_DIR", ACERL_SOURCE_DIR) + "/" + relative;
}

std::string scratch_dir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::path(configured("ACERL_TEST_BINARY_DIR", ACERL_BINARY_DIR)) / "test-tmp" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace acerl::test
