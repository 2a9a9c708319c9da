// Rank-aware logging; see log.h.
#include "runtime/log.h"

#include <cstdio>
#include <mutex>
#include <set>

namespace acerl {
namespace {
int g_rank = 0;
int g_world_size = 1;
std::mutex g_mutex;
}  // namespace

void log_set_rank(int rank, int world_size) {
  g_rank = rank;
  g_world_size = world_size;
}

int log_rank() { return g_rank; }

void log0(const std::string& line) {
  if (g_rank != 0) return;
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void logr(const std::string& line) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_world_size > 1) std::fprintf(stderr, "rank %d: ", g_rank);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void warn_once(const std::string& key, const std::string& line) {
  static std::set<std::string> seen;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!seen.insert(key).second) return;
  }
  logr(line);
}

}  // namespace acerl
