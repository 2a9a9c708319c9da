// The split layout's group messages: a learner files groups by (step, round, slot) and takes a
// step's kept groups in drawing order, whatever order they arrived in.
#include "support/catch.h"

#include <algorithm>
#include <random>

#include "rl/group_stream.h"

using namespace acerl;

namespace {

// Group g of step s: 2 rollouts whose fields name them.
std::vector<rl::Rollout> group(int64_t s, int64_t round, int64_t slot) {
  std::vector<rl::Rollout> out(2);
  for (int64_t i = 0; i < 2; ++i) {
    out[static_cast<size_t>(i)].prompt = static_cast<size_t>(100 * s + 10 * round + slot);
    out[static_cast<size_t>(i)].sample = i;
    out[static_cast<size_t>(i)].tokens = {s, round, slot, i};
    out[static_cast<size_t>(i)].reward = 0.5 * static_cast<double>(i);
    out[static_cast<size_t>(i)].reason = i ? "correct" : "wrong";
  }
  return out;
}

}  // namespace

TEST_CASE("the inbox gives a step's groups in key order, whatever order they arrived in", "[rl]") {
  // Step 3: round 0 slots 0-3 (slot 2 dropped, never sent), round 1 slot 0; step 4 slot 1.
  std::vector<rl::GroupKey> sent = {{3, 0, 0}, {3, 0, 1}, {3, 0, 3}, {3, 1, 0}, {4, 0, 1}};
  std::mt19937 shuffle(7);
  for (int trial = 0; trial < 5; ++trial) {
    std::vector<rl::GroupKey> order = sent;
    std::shuffle(order.begin(), order.end(), shuffle);
    rl::GroupInbox inbox;
    for (const auto& k : order) {
      const auto bytes = rl::encode_group(k, group(k.step, k.round, k.slot));
      inbox.file(bytes.data(), bytes.size());
    }
    CHECK(inbox.size() == 5);
    const std::vector<rl::GroupKey> step3 = {{3, 0, 0}, {3, 0, 1}, {3, 0, 3}, {3, 1, 0}};
    CHECK(inbox.has_all(step3));
    CHECK_FALSE(inbox.has_all({{3, 0, 2}}));
    const auto kept = inbox.take(step3);
    REQUIRE(kept.size() == 8);
    for (size_t g = 0; g < 4; ++g)
      for (size_t i = 0; i < 2; ++i) {
        const rl::Rollout& r = kept[2 * g + i];
        CHECK(r.tokens == std::vector<int64_t>{3, step3[g].round, step3[g].slot,
                                               static_cast<int64_t>(i)});
        CHECK(r.sample == static_cast<int64_t>(i));
        CHECK(r.reward == 0.5 * static_cast<double>(i));
        CHECK(r.reason == (i ? "correct" : "wrong"));
      }
    // Taken groups leave; the next step's stays.
    CHECK(inbox.size() == 1);
    CHECK(inbox.has({4, 0, 1}));
  }
}

TEST_CASE("a group that arrives twice, a missing group and a cut message are errors naming them",
          "[rl]") {
  rl::GroupInbox inbox;
  const auto bytes = rl::encode_group({2, 1, 5}, group(2, 1, 5));
  inbox.file(bytes.data(), bytes.size());
  CHECK_THROWS_WITH(inbox.file(bytes.data(), bytes.size()),
                    Catch::Contains("step 2 round 1 slot 5 arrived twice"));
  CHECK_THROWS_WITH(inbox.take({{2, 1, 5}, {2, 1, 6}}),
                    Catch::Contains("step 2 round 1 slot 6 has not arrived"));
  CHECK_THROWS_WITH(inbox.file(bytes.data(), bytes.size() - 1), Catch::Contains("message ends"));
  // Keys round-trip as part of a larger message.
  io::ByteWriter w;
  rl::write_keys(w, {{1, 0, 2}, {1, 2, 0}});
  io::ByteReader r(w.bytes().data(), w.bytes().size());
  const std::vector<rl::GroupKey> keys = rl::read_keys(r);
  REQUIRE(keys.size() == 2);
  CHECK(keys[0].name() == "step 1 round 0 slot 2");
  CHECK(keys[1].name() == "step 1 round 2 slot 0");
  CHECK(r.done());
}
