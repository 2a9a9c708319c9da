// defines: the split layout's group messages (one scored group of rollouts, named by its key:
// step, round of dynamic sampling, slot within the round) and GroupInbox, where a learner files
// the groups it receives by key, in whatever order they arrive, and takes a step's kept groups
// in drawing order (so nothing it learns depends on arrival order).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "rl/rollout_batch.h"

namespace acerl::rl {

struct GroupKey {
  int64_t step = 0;   // the global step the group is for (1-based)
  int64_t round = 0;  // dynamic sampling's round (0: the first draw)
  int64_t slot = 0;   // the prompt's place among all the prompts drawn in that round
  bool operator<(const GroupKey& o) const {
    return std::tie(step, round, slot) < std::tie(o.step, o.round, o.slot);
  }
  bool operator==(const GroupKey& o) const {
    return step == o.step && round == o.round && slot == o.slot;
  }
  std::string name() const;  // "step 3 round 0 slot 5"
};

// A group as one message: its key, then its rollouts (write_rollouts).
std::vector<uint8_t> encode_group(const GroupKey& key, const std::vector<Rollout>& group);

// Keys as part of a message, and back.
void write_keys(io::ByteWriter& out, const std::vector<GroupKey>& keys);
std::vector<GroupKey> read_keys(io::ByteReader& in);

class GroupInbox {
 public:
  // Files a group message (encode_group); a key filed twice is an error naming it.
  void file(const uint8_t* data, size_t size);
  bool has(const GroupKey& key) const { return groups_.count(key) > 0; }
  bool has_all(const std::vector<GroupKey>& keys) const;
  // The rollouts of `keys`, in that order, removed from the inbox; a key not filed is an error
  // naming it.
  std::vector<Rollout> take(const std::vector<GroupKey>& keys);
  size_t size() const { return groups_.size(); }

 private:
  std::map<GroupKey, std::vector<Rollout>> groups_;
};

}  // namespace acerl::rl
