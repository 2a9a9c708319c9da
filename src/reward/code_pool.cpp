// Worker threads of the code reward; see code_pool.h.
#include "reward/code_pool.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>

namespace acerl::reward {

CodeWorkerPool::CodeWorkerPool(int workers) {
  if (workers <= 0) workers = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The workers inherit a mask with every signal blocked: a process-directed signal (Ctrl-C,
  // a scheduler's SIGTERM) is then handled by the application's own threads, never here.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { work(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

CodeWorkerPool::~CodeWorkerPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_) t.join();
}

void CodeWorkerPool::run(size_t n, const std::function<void(size_t)>& job) {
  if (n == 0) return;
  std::lock_guard<std::mutex> batch(batch_mutex_);
  std::unique_lock<std::mutex> lock(mutex_);
  job_ = &job;
  next_ = 0;
  total_ = n;
  finished_ = 0;
  error_ = nullptr;
  wake_.notify_all();
  done_.wait(lock, [&] { return finished_ == total_; });
  job_ = nullptr;
  total_ = 0;
  if (error_) std::rethrow_exception(error_);
}

void CodeWorkerPool::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || next_ < total_; });
    if (stop_) return;
    size_t i = next_++;
    const auto* job = job_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*job)(i);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = error;
    if (++finished_ == total_) done_.notify_all();
  }
}

}  // namespace acerl::reward
