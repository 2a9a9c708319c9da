// Per-rank compute threads; see threads.h.
#include "runtime/threads.h"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

namespace acerl {

int configure_threads(const MpiRuntime& runtime, int requested) {
  int threads = requested;
  if (threads <= 0) {
    if (const char* env = std::getenv("OMP_NUM_THREADS")) threads = std::atoi(env);
  }
  if (threads <= 0) {
    int cores = static_cast<int>(std::thread::hardware_concurrency());
    threads = std::max(1, cores / std::max(1, runtime.local_size()));
  }
  torch::set_num_threads(threads);
  return threads;
}

}  // namespace acerl
