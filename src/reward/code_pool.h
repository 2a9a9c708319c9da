// defines: CodeWorkerPool: a fixed set of threads that runs indexed jobs, bounding how many
// sandboxed programs run at once (reward.code.workers). code_reward.cpp queues one job per
// (response, test case) so a batch of rollouts keeps every worker busy.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace acerl::reward {

class CodeWorkerPool {
 public:
  // `workers` threads; 0 means one per hardware thread.
  explicit CodeWorkerPool(int workers);
  ~CodeWorkerPool();
  CodeWorkerPool(const CodeWorkerPool&) = delete;
  CodeWorkerPool& operator=(const CodeWorkerPool&) = delete;

  int size() const { return static_cast<int>(threads_.size()); }

  // Calls job(i) for i = 0 .. n-1, started in that order, at most size() at a time; returns
  // when all are done and rethrows the first exception a job threw. One batch at a time:
  // concurrent callers wait for each other.
  void run(size_t n, const std::function<void(size_t)>& job);

 private:
  void work();

  std::vector<std::thread> threads_;
  std::mutex batch_mutex_;  // one run() at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(size_t)>* job_ = nullptr;
  size_t next_ = 0, total_ = 0, finished_ = 0;
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace acerl::reward
