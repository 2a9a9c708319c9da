// `acerl --check`: MPI, LibTorch and parallel-HDF5 probe; see check.h.
#include "cli/check.h"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <set>

#include "io/h5.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/threads.h"
#include "runtime/version.h"

namespace acerl::cli {
namespace {

constexpr int kHostLength = 64;
constexpr int kColumns = 4;  // rank, local rank, threads, bf16 GFLOP/s

// bf16 matmul throughput of this rank, after checking its result against fp32.
double matmul_gflops() {
  torch::manual_seed(7);
  const int64_t n = 512;
  auto a = torch::randn({n, n});
  auto b = torch::randn({n, n});
  auto reference = torch::matmul(a, b);
  auto a16 = a.to(torch::kBFloat16), b16 = b.to(torch::kBFloat16);
  auto product = torch::matmul(a16, b16).to(torch::kFloat32);
  double rel = ((product - reference).norm() / reference.norm()).item<double>();
  ACERL_CHECK(rel < 2e-2, "bf16 matmul differs from fp32 by ", rel, " (relative): broken BLAS?");
  const int reps = 8;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) product = torch::matmul(a16, b16);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return 2.0 * n * n * n * reps / seconds / 1e9;
}

}  // namespace

int run_check(MpiRuntime& runtime, const std::string& dir) {
  const int rank = runtime.rank(), size = runtime.size();
  int threads = configure_threads(runtime, 0);
  const char* levels[] = {"SINGLE", "FUNNELED", "SERIALIZED", "MULTIPLE"};
  log0(str("acerl --check: ", size, " rank(s); MPI thread level ",
           levels[std::clamp(runtime.thread_level(), 0, 3)], "\n", version_report()));

  // MPI: a sum every rank can verify.
  long long sum = 0, mine = rank;
  MPI_Allreduce(&mine, &sum, 1, MPI_LONG_LONG, MPI_SUM, runtime.world());
  ACERL_CHECK(sum == static_cast<long long>(size) * (size - 1) / 2, "MPI_Allreduce returned ", sum,
              ", expected ", static_cast<long long>(size) * (size - 1) / 2);

  double row[kColumns] = {double(rank), double(runtime.local_rank()), double(threads),
                          matmul_gflops()};
  char host[kHostLength] = {};
  int host_length = 0;
  MPI_Get_processor_name(host, &host_length);
  host[kHostLength - 1] = '\0';
  std::vector<char> hosts(rank == 0 ? size_t(size) * kHostLength : 0);
  MPI_Gather(host, kHostLength, MPI_CHAR, hosts.data(), kHostLength, MPI_CHAR, 0, runtime.world());

  // Parallel HDF5: every rank writes its row of one dataset collectively.
  if (rank == 0) std::filesystem::create_directories(dir);
  MPI_Barrier(runtime.world());
  const std::string path = (std::filesystem::path(dir) / "acerl-check.h5").string();
  {
    auto file = h5::File::create(path, runtime.world());
    file.set_attr("acerl_version", version_report());
    auto ds = h5::Dataset::create(file, "ranks", h5::DType::f64, {size, kColumns});
    ds.set_attr("columns", std::string("rank,local_rank,threads,bf16_gflops"));
    ds.write(row, h5::DType::f64, {rank, 0}, {1, kColumns});
  }
  MPI_Barrier(runtime.world());

  int failures = 0;
  if (rank == 0) {
    auto file = h5::File::open(path);
    auto ds = h5::Dataset::open(file, "ranks");
    std::vector<double> table(size_t(size) * kColumns);
    ds.read_all(table.data(), h5::DType::f64);
    std::set<std::string> nodes;
    std::string report = "rank  local  threads  bf16 GFLOP/s  host\n";
    for (int r = 0; r < size; ++r) {
      const double* t = &table[size_t(r) * kColumns];
      std::string name(&hosts[size_t(r) * kHostLength]);
      nodes.insert(name);
      if (t[0] != r) ++failures;
      char line[160];
      std::snprintf(line, sizeof line, "%4d  %5d  %7d  %12.1f  %s\n", int(t[0]), int(t[1]),
                    int(t[2]), t[3], name.c_str());
      report += line;
    }
    log0(report + str("MPI allreduce: ok\nparallel HDF5: ", failures ? "FAILED" : "ok", " (", path,
                      ", ", size, " rows written collectively, re-read by rank 0)\n", nodes.size(),
                      " node(s)\n", failures ? "check FAILED" : "all checks passed"));
  }
  MPI_Bcast(&failures, 1, MPI_INT, 0, runtime.world());
  return failures ? 1 : 0;
}

}  // namespace acerl::cli
