// The collective watchdog; see watchdog.h.
#include "runtime/watchdog.h"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "runtime/error.h"

namespace acerl {
namespace {

using Clock = std::chrono::steady_clock;

// Trivially destructible globals: a scope may run after a Watchdog is gone.
std::atomic<bool> g_enabled{false};
std::atomic<int64_t> g_step{-1};
std::atomic<int64_t> g_armed_ns{0};  // start of the pending collective; 0 = none
std::atomic<const char*> g_op{nullptr};
std::atomic<const char*> g_comm{nullptr};
thread_local int t_depth = 0;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Watchdog::State {
  double timeout_s = 0;
  int rank = 0;
  std::mutex mutex;
  std::condition_variable wake;
  bool stop = false;
  std::thread thread;

  void watch() {
    std::unique_lock<std::mutex> lock(mutex);
    const auto poll = std::chrono::milliseconds(timeout_s < 10 ? 100 : 1000);
    while (!wake.wait_for(lock, poll, [&] { return stop; })) {
      const int64_t since = g_armed_ns.load();
      if (since == 0) continue;
      const double waited = static_cast<double>(now_ns() - since) * 1e-9;
      if (waited < timeout_s) continue;
      const char* op = g_op.load();
      const char* comm = g_comm.load();
      const int64_t step = g_step.load();
      std::string message =
          str("rank ", rank, ": error: collective ", op ? op : "(unknown)",
              comm && *comm ? str(" on '", comm, "'") : std::string(),
              step >= 0 ? str(" at step ", step) : std::string(), " has not completed after ",
              static_cast<int64_t>(waited), " s (run.collective_timeout_s = ", timeout_s,
              "): another rank is hung or dead; aborting the job\n");
      std::fwrite(message.data(), 1, message.size(), stderr);
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
      std::_Exit(1);
    }
  }
};

Watchdog::Watchdog(double timeout_s, int rank) {
  if (timeout_s <= 0) return;
  ACERL_CHECK(!g_enabled.exchange(true), "a collective watchdog is already running");
  state_ = std::make_unique<State>();
  state_->timeout_s = timeout_s;
  state_->rank = rank;
  state_->thread = std::thread([s = state_.get()] { s->watch(); });
}

Watchdog::~Watchdog() {
  if (!state_) return;
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->wake.notify_all();
  state_->thread.join();
  g_enabled = false;
  g_step = -1;
}

void Watchdog::set_step(int64_t step) { g_step = step; }

CollectiveScope::CollectiveScope(const char* op, const char* comm) {
  if (!g_enabled.load(std::memory_order_relaxed)) return;
  entered_ = true;
  if (t_depth++ > 0) return;
  int64_t expected = 0;
  if (!g_armed_ns.compare_exchange_strong(expected, now_ns())) return;  // another thread's
  g_op = op;
  g_comm = comm;
  armed_ = true;
  fault_hang_point();
}

CollectiveScope::~CollectiveScope() {
  if (entered_) --t_depth;
  if (armed_) g_armed_ns = 0;
}

namespace {

// The fault hooks' common part: when the step is `step_text` and this is rank `rank_text` (both
// from the environment, either unset: never), says `what` and sleeps for ever.
void sleep_forever_if_named(const char* rank_text, const char* step_text, const char* what) {
  if (!rank_text || !step_text || g_step.load() != std::atoll(step_text)) return;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != std::atoi(rank_text)) return;
  std::fprintf(stderr, "rank %d: fault hook: %s at step %s\n", rank, what, step_text);
  std::fflush(stderr);
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

}  // namespace

void fault_hang_point() {
  static const char* rank_text = std::getenv("ACERL_FAULT_HANG_RANK");
  static const char* step_text = std::getenv("ACERL_FAULT_HANG_STEP");
  sleep_forever_if_named(rank_text, step_text, "hanging inside a collective");
}

void fault_stall_point() {
  static const char* rank_text = std::getenv("ACERL_FAULT_STALL_RANK");
  static const char* step_text = std::getenv("ACERL_FAULT_STALL_STEP");
  sleep_forever_if_named(rank_text, step_text, "stalling outside any collective");
}

}  // namespace acerl
