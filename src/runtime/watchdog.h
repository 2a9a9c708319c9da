// defines: the collective watchdog. A hung or dead rank would otherwise keep every other rank
// waiting in a collective until the scheduler's wall-clock limit. While a watchdog is running
// (Watchdog, from the trainers, timeout run.collective_timeout_s), each blocking collective of
// the communicators (parallel/communicator.cpp) holds a CollectiveScope; a collective that has
// not completed after the timeout prints "rank R: error: ... <op> ... step S ..." and aborts the
// whole job (exit 1).
#pragma once

#include <cstdint>
#include <memory>

namespace acerl {

class Watchdog {
 public:
  // timeout_s <= 0: no watchdog (scopes cost one relaxed atomic load). One at a time.
  Watchdog(double timeout_s, int rank);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The training step the messages name (set by the trainers at each step).
  static void set_step(int64_t step);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Marks one blocking collective. `op` ("MPI_Allreduce") and `comm` (the communicator's name,
// "dp") must outlive the scope's watchdog: string literals or a communicator's own name.
// Nested scopes count once, for the outermost.
class CollectiveScope {
 public:
  explicit CollectiveScope(const char* op, const char* comm = "");
  ~CollectiveScope();
  CollectiveScope(const CollectiveScope&) = delete;
  CollectiveScope& operator=(const CollectiveScope&) = delete;

 private:
  bool entered_ = false;
  bool armed_ = false;
};

// Test hook: with ACERL_FAULT_HANG_RANK=R and ACERL_FAULT_HANG_STEP=S set, rank R sleeps for
// ever inside its first collective of step S (the hung rank the watchdog exists for).
void fault_hang_point();
// Test hook: with ACERL_FAULT_STALL_RANK=R and ACERL_FAULT_STALL_STEP=S set, rank R sleeps for
// ever where it calls this at step S, outside any collective (a rank stuck in its own work, which
// its own watchdog cannot see: the ranks waiting for it must).
void fault_stall_point();

}  // namespace acerl
