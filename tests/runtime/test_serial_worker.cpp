// SerialWorker: jobs run one at a time, in order, on a thread other than the caller's; results
// and exceptions come back through futures; the destructor runs what is still queued.
#include "support/catch.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/serial_worker.h"

using namespace acerl;

TEST_CASE("a serial worker runs its jobs in order, one at a time, off the caller's thread",
          "[runtime]") {
  std::vector<int> order;  // written by the worker only
  std::atomic<int> running{0}, most{0};
  std::vector<std::future<int>> results;
  std::thread::id worker_thread;
  {
    SerialWorker worker;
    for (int i = 0; i < 20; ++i)
      results.push_back(worker.submit([&, i] {
        const int now = ++running;
        most = std::max(most.load(), now);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        order.push_back(i);
        worker_thread = std::this_thread::get_id();
        --running;
        return i * i;
      }));
    CHECK(results[3].get() == 9);  // waits for job 3 while the rest may still be queued
    auto failing = worker.submit([]() -> int { throw std::runtime_error("job failed"); });
    CHECK_THROWS_WITH(failing.get(), "job failed");
  }  // the destructor ran every queued job
  std::vector<int> expected(20);
  for (int i = 0; i < 20; ++i) expected[static_cast<size_t>(i)] = i;
  CHECK(order == expected);
  CHECK(most.load() == 1);
  CHECK(worker_thread != std::this_thread::get_id());
  for (int i = 0; i < 20; ++i)
    if (i != 3) CHECK(results[static_cast<size_t>(i)].get() == i * i);  // (3 was taken above)
}
