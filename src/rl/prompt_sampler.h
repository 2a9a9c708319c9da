// defines: PromptSampler, the order in which an RL stage visits its prompts: a seeded shuffle
// per epoch, consumed `count` at a time (identically on every rank), skipping prompts a filter
// rejects (easy prompts), with a resumable cursor.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace acerl::rl {

class PromptSampler {
 public:
  PromptSampler(size_t prompts, uint64_t seed);
  // The next `count` prompt indices not rejected by `skip`; passing the end of an epoch calls
  // `epoch_end` and continues in a new shuffle. Fewer than `count` (possibly none) when a whole
  // epoch offers no acceptable prompt.
  std::vector<size_t> next(size_t count, const std::function<bool(size_t)>& skip,
                           const std::function<void()>& epoch_end);
  int64_t epoch() const { return epoch_; }
  size_t cursor() const { return cursor_; }
  size_t prompts() const { return prompts_; }
  // Continues at `cursor` of `epoch`'s shuffle; cursor <= prompts() (Error otherwise).
  void restore(int64_t epoch, size_t cursor);

 private:
  void shuffle();
  size_t prompts_;
  uint64_t seed_;
  int64_t epoch_ = 0;
  size_t cursor_ = 0;
  std::vector<size_t> order_;
};

}  // namespace acerl::rl
