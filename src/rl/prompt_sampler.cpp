// Epoch-shuffled prompt order; see prompt_sampler.h.
#include "rl/prompt_sampler.h"

#include "runtime/error.h"

#include <numeric>
#include <random>

namespace acerl::rl {

PromptSampler::PromptSampler(size_t prompts, uint64_t seed) : prompts_(prompts), seed_(seed) {
  shuffle();
}

void PromptSampler::shuffle() {
  order_.resize(prompts_);
  std::iota(order_.begin(), order_.end(), 0);
  std::mt19937_64 rng(seed_ * 7919 + static_cast<uint64_t>(epoch_));
  std::shuffle(order_.begin(), order_.end(), rng);
}

void PromptSampler::restore(int64_t epoch, size_t cursor) {
  ACERL_CHECK(epoch >= 0 && cursor <= prompts_, "prompt cursor ", cursor, " (epoch ", epoch,
              ") is outside a stage of ", prompts_, " prompts");
  epoch_ = epoch;
  cursor_ = cursor;
  shuffle();
}

std::vector<size_t> PromptSampler::next(size_t count, const std::function<bool(size_t)>& skip,
                                        const std::function<void()>& epoch_end) {
  std::vector<size_t> out;
  size_t examined_without_pick = 0;
  while (out.size() < count && examined_without_pick <= prompts_) {
    if (cursor_ == order_.size()) {
      if (epoch_end) epoch_end();
      ++epoch_;
      cursor_ = 0;
      shuffle();
    }
    const size_t prompt = order_[cursor_++];
    if (skip && skip(prompt)) {
      ++examined_without_pick;
      continue;
    }
    examined_without_pick = 0;
    out.push_back(prompt);
  }
  return out;
}

}  // namespace acerl::rl
