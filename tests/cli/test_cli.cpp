// The acerl executable as users meet it: --version against the real libraries, --help listing
// real keys, config errors on the command line, unknown and unimplemented commands.
#include "support/catch.h"

#include <fstream>

#include "support/process.h"

using namespace acerl::test;
using Catch::Matchers::Contains;

namespace {
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }
}  // namespace

TEST_CASE("acerl --version names the LibTorch, MPI and HDF5 actually in use", "[cli]") {
  auto r = run_process(quote(ACERL_EXE) + " --version");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto torch = run_python("-c \"import torch; print(torch.__version__.split('+')[0])\"");
  REQUIRE(torch.exit_code == 0);
  CHECK_THAT(r.out, Contains("LibTorch " + first_line(torch.out)));
  auto mpirun = run_process("mpirun --version");
  // "mpirun (Open MPI) 4.1.4" -> the library reports "Open MPI v4.1.4"
  REQUIRE(mpirun.exit_code == 0);  // setup installs openmpi-bin: its absence is a failure
  std::string mpi_version = first_line(mpirun.out).substr(first_line(mpirun.out).rfind(' ') + 1);
  REQUIRE(mpi_version.find('.') != std::string::npos);
  CHECK_THAT(r.out, Contains("v" + mpi_version));
  auto h5 = run_python("-c \"import h5py; print(h5py.version.hdf5_version)\"");
  auto h5dump = run_process("h5dump --version");
  // h5dump is built against the same Debian HDF5 as acerl: "h5dump: Version 1.10.8"
  REQUIRE(h5dump.exit_code == 0);  // setup installs hdf5-tools
  std::string h5_version = first_line(h5dump.out).substr(first_line(h5dump.out).rfind(' ') + 1);
  REQUIRE(h5_version.find('.') != std::string::npos);
  CHECK_THAT(r.out, Contains("HDF5 " + h5_version));
  CHECK_THAT(r.out, Contains("(git "));
}

TEST_CASE("acerl sft --help lists config keys with docs and defaults", "[cli]") {
  auto r = run_process(quote(ACERL_EXE) + " sft --help");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("usage: acerl sft"));
  CHECK_THAT(r.out, Contains("[parallel]"));
  CHECK_THAT(r.out, Contains("tp = 1") && Contains("tensor-parallel ranks"));
  CHECK_THAT(r.out, Contains("seed = 1234"));
}

TEST_CASE("a typo in a config file is reported with file, line and the nearest key", "[cli]") {
  std::string dir = scratch_dir("cli_typo");
  std::ofstream(dir + "/bad.ini") << "[run]\nseed = 3\n[parallel]\ntpp = 2\n";
  for (const char* command : {"sft", "rl", "eval", "generate", "tune-temperature"}) {
    auto r = run_process(quote(ACERL_EXE) + " " + command + " " + quote(dir + "/bad.ini"));
    INFO(command << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("bad.ini:4") && Contains("unknown key 'parallel.tpp'") &&
                          Contains("did you mean 'parallel.tp'"));
  }
}

TEST_CASE("bad command-line overrides and options are usage errors", "[cli]") {
  auto r = run_process(quote(ACERL_EXE) + " sft --parallel.tp=zero");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err,
             Contains("command line") && Contains("parallel.tp = 'zero'") && Contains("integer"));
  r = run_process(quote(ACERL_EXE) + " sft --parallel.tp 2");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("--parallel.tp=VALUE"));
  r = run_process(quote(ACERL_EXE) + " sft --bogus");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("unknown option '--bogus'"));
  r = run_process(quote(ACERL_EXE) + " frobnicate");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("unknown command 'frobnicate'") && Contains("sft"));
}

TEST_CASE("acerl --help lists every subcommand", "[cli]") {
  auto r = run_process(quote(ACERL_EXE) + " --help");
  REQUIRE(r.exit_code == 0);
  for (const char* command :
       {"sft", "rl", "eval", "generate", "convert", "trace", "tune-temperature", "data"})
    CHECK_THAT(r.out, Contains(std::string("  ") + command));
}

TEST_CASE("acerl --check passes on two ranks and writes a readable HDF5 file", "[cli]") {
  std::string dir = scratch_dir("cli_check");
  auto r = run_process(mpiexec(2) + " " + quote(ACERL_EXE) + " --check " + quote(dir), 120);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Contains("all checks passed"));
  auto py =
      run_python("-c \"import h5py; f = h5py.File('" + dir +
                 "/acerl-check.h5', 'r'); d = f['ranks'][...]; print(d.shape, list(d[:, 0]))\"");
  INFO(py.err);
  CHECK_THAT(py.out, Contains("(2, 4) [np.float64(0.0), np.float64(1.0)]"));
}

TEST_CASE("the installed tree runs through its modulefile without LD_LIBRARY_PATH", "[cli]") {
  std::string prefix = scratch_dir("install_prefix");
  auto install = run_process(quote(ACERL_CMAKE_COMMAND) + " --install " + quote(ACERL_BINARY_DIR) +
                                 " --prefix " + quote(prefix),
                             300);
  INFO(install.out << install.err);
  REQUIRE(install.exit_code == 0);
  std::string script = "source /usr/share/modules/init/bash && module use " + prefix +
                       "/share/modulefiles && module load acerl && unset LD_LIBRARY_PATH && "
                       "command -v acerl && acerl --version && ls \"$ACERL_INPUTS\"";
  // ASAN_OPTIONS passes through: the sanitizer build must not report Open MPI's leaks here.
  auto r = run_process(
      "env -i HOME=\"$HOME\" PATH=/usr/bin:/bin ASAN_OPTIONS=\"${ASAN_OPTIONS:-}\" bash -c " +
      quote(script));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Contains(prefix + "/bin/acerl"));
  CHECK_THAT(r.out, Contains("LibTorch"));
  CHECK_THAT(r.out, Contains("README.md"));
}
