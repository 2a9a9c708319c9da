// RoundScorer: groups finished while a scoring job runs are scored together in the next call,
// values come back in group order whatever the order groups finished in, each group is handed on
// once, and failures surface in finish().
#include "support/catch.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "rl/round_scorer.h"

using namespace acerl;

namespace {

constexpr size_t kG = 2;

// Group k: kG rollouts whose prompt is k.
std::vector<rl::Rollout> group(size_t k) {
  std::vector<rl::Rollout> out(kG);
  for (size_t i = 0; i < kG; ++i) {
    out[i].prompt = k;
    out[i].sample = static_cast<int64_t>(i);
  }
  return out;
}

// The value pair of a rollout: (10 * prompt + sample, sample).
std::vector<double> values_of(const std::vector<const rl::Rollout*>& rollouts) {
  std::vector<double> v;
  for (const rl::Rollout* r : rollouts) {
    v.push_back(10.0 * static_cast<double>(r->prompt) + static_cast<double>(r->sample));
    v.push_back(static_cast<double>(r->sample));
  }
  return v;
}
std::vector<double> values_of(const std::vector<rl::Rollout>& rollouts) {
  std::vector<const rl::Rollout*> refs;
  for (const auto& r : rollouts) refs.push_back(&r);
  return values_of(refs);
}

// values_of as a score function.
const rl::RoundScorer::Score score_values = [](const std::vector<const rl::Rollout*>& r) {
  return values_of(r);
};

// Holds the first call of a score function until opened.
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return open_; });
  }
  void open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
};

}  // namespace

TEST_CASE("groups that finish while the scorer is busy are scored together, in group order",
          "[rl]") {
  SerialWorker worker;
  Gate gate;
  std::mutex calls_mutex;
  std::vector<std::vector<size_t>> calls;  // the groups of each score call
  struct Heard {
    size_t group;
    std::vector<double> values;
    bool generating;
  };
  std::vector<Heard> heard;
  rl::RoundScorer scorer(
      worker, 4, kG,
      [&](const std::vector<const rl::Rollout*>& rollouts) {
        std::vector<size_t> groups;
        for (size_t i = 0; i < rollouts.size(); i += kG) groups.push_back(rollouts[i]->prompt);
        bool first;
        {
          std::lock_guard<std::mutex> lock(calls_mutex);
          first = calls.empty();
          calls.push_back(groups);
        }
        if (first) gate.wait();
        return values_of(rollouts);
      },
      [&](size_t k, std::vector<rl::Rollout>& rollouts, const double* values, bool generating) {
        REQUIRE(rollouts.size() == kG);
        CHECK(rollouts[0].prompt == k);
        heard.push_back({k, std::vector<double>(values, values + 2 * kG), generating});
      });
  scorer.add(2, group(2));  // the first job starts and waits at the gate
  scorer.add(0, group(0));  // these two queue behind it
  scorer.add(3, group(3));
  scorer.poll();
  CHECK(heard.empty());
  gate.open();
  // Polled as the generator does after each step: group 2's values come in while "generating".
  for (int i = 0; i < 5000 && heard.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    scorer.poll();
  }
  REQUIRE(heard.size() == 1);
  CHECK(heard[0].group == 2);
  CHECK(heard[0].generating);
  scorer.add(1, group(1));
  const std::vector<double> all = scorer.finish();
  std::vector<double> expected;
  for (size_t k = 0; k < 4; ++k) {
    auto v = values_of(group(k));
    expected.insert(expected.end(), v.begin(), v.end());
  }
  CHECK(all == expected);
  // Three calls: group 2; groups 0 and 3 together (queued while the first ran); group 1.
  REQUIRE(calls.size() == 3);
  CHECK(calls[0] == std::vector<size_t>{2});
  CHECK(calls[1] == std::vector<size_t>{0, 3});
  CHECK(calls[2] == std::vector<size_t>{1});
  CHECK(scorer.jobs() == 3);
  // Every group handed on once, with its own values; group 1 only in finish().
  REQUIRE(heard.size() == 4);
  std::vector<int> times(4, 0);
  for (const Heard& h : heard) {
    ++times[h.group];
    CHECK(h.values == values_of(group(h.group)));
    if (h.group == 1) CHECK_FALSE(h.generating);
  }
  CHECK(times == std::vector<int>(4, 1));
}

TEST_CASE("a round's scoring fails loudly: a group never added, a failed score, a wrong group",
          "[rl]") {
  SerialWorker worker;
  auto ignore = [](size_t, std::vector<rl::Rollout>&, const double*, bool) {};
  {
    rl::RoundScorer scorer(worker, 2, kG, score_values, ignore);
    scorer.add(0, group(0));
    CHECK_THROWS_WITH(scorer.finish(), Catch::Contains("group 1 of the round was not scored"));
  }
  {
    rl::RoundScorer scorer(
        worker, 2, kG,
        [](const std::vector<const rl::Rollout*>&) -> std::vector<double> {
          throw std::runtime_error("sandbox gone");
        },
        ignore);
    scorer.add(1, group(1));
    CHECK_THROWS_WITH(scorer.finish(), "sandbox gone");
  }
  {
    rl::RoundScorer scorer(worker, 2, kG, score_values, ignore);
    CHECK_THROWS_WITH(scorer.add(0, std::vector<rl::Rollout>(3)),
                      Catch::Contains("finished with 3 rollouts, not 2"));
    CHECK_THROWS_WITH(scorer.add(5, group(5)), Catch::Contains("group 5 of a round of 2"));
  }
  {
    // Destroyed with a job still running (an exception ended the round): it waits for the job,
    // which still reads `alive`.
    Gate gate;
    bool alive = true;
    bool read_alive = false;
    std::thread opener;
    {
      rl::RoundScorer scorer(
          worker, 1, kG,
          [&](const std::vector<const rl::Rollout*>& r) {
            gate.wait();
            read_alive = alive;
            return values_of(r);
          },
          ignore);
      scorer.add(0, group(0));
      opener = std::thread([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        gate.open();
      });
    }
    alive = false;
    opener.join();
    CHECK(read_alive);
  }
}

TEST_CASE("the score function reads the groups' own rollouts, not copies", "[rl]") {
  SerialWorker worker;
  std::vector<const rl::Rollout*> scored;  // what the score function saw
  std::vector<const rl::Rollout*> handed;  // what the callback was handed, in the same order
  rl::RoundScorer scorer(
      worker, 2, kG,
      [&](const std::vector<const rl::Rollout*>& r) {
        scored.insert(scored.end(), r.begin(), r.end());
        return values_of(r);
      },
      [&](size_t, std::vector<rl::Rollout>& rollouts, const double*, bool) {
        for (const auto& r : rollouts) handed.push_back(&r);
      });
  scorer.add(1, group(1));
  scorer.add(0, group(0));
  scorer.finish();
  REQUIRE(scored.size() == 2 * kG);
  CHECK(scored == handed);
}
