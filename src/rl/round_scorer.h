// defines: RoundScorer, the scoring of one round's groups of rollouts on a thread of its own
// (runtime/serial_worker) while the generator is still decoding: groups reported while a job runs
// queue up, and each job scores all that are queued in one call (code runs fill the sandbox
// pool); each group's rewards are handed on, on the caller's thread, as soon as they are in.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <vector>

#include "rl/rollout_batch.h"
#include "runtime/serial_worker.h"

namespace acerl::rl {

class RoundScorer {
 public:
  // Scores rollouts (on the worker's thread): 2 values per rollout, in their order. They are the
  // queued groups' own rollouts, not copies (read only, and untouched until their values are in).
  using Score = std::function<std::vector<double>(const std::vector<const Rollout*>&)>;
  // Group `group` is scored: its rollouts and their values; `generating` when this came through
  // poll() (during generation) rather than finish().
  using OnScored = std::function<void(size_t group, std::vector<Rollout>& rollouts,
                                      const double* values, bool generating)>;
  RoundScorer(SerialWorker& worker, size_t groups, size_t group_size, Score score,
              OnScored on_scored);
  // Waits for a job still running: it reads what `score` refers to (an exception may have ended
  // the round early).
  ~RoundScorer();
  RoundScorer(const RoundScorer&) = delete;
  RoundScorer& operator=(const RoundScorer&) = delete;

  // Group k (of group_size rollouts) has finished; it is queued, and scored when the worker is
  // free.
  void add(size_t k, std::vector<Rollout> rollouts);
  // Hands on the groups whose values are in and starts the next job; never waits.
  void poll() { take(false); }
  // Waits for every group: the values (2 per rollout), in group order. A group never added, or
  // an exception of `score`, is an error here.
  std::vector<double> finish();

  int64_t jobs() const { return jobs_; }  // score calls so far

 private:
  void take(bool wait);

  SerialWorker& worker_;
  size_t group_size_;
  Score score_;
  OnScored on_scored_;
  std::vector<std::vector<Rollout>> rollouts_;  // finished groups, until scored
  std::vector<std::vector<double>> values_;     // scored groups' values
  std::vector<size_t> queued_, in_job_;
  std::future<std::vector<double>> job_;
  int64_t jobs_ = 0;
};

}  // namespace acerl::rl
