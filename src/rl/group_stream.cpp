// Group messages and the learner's inbox; see group_stream.h.
#include "rl/group_stream.h"

#include "runtime/error.h"

namespace acerl::rl {

std::string GroupKey::name() const { return str("step ", step, " round ", round, " slot ", slot); }

std::vector<uint8_t> encode_group(const GroupKey& key, const std::vector<Rollout>& group) {
  io::ByteWriter w;
  write_keys(w, {key});
  write_rollouts(w, group);
  return std::move(w.bytes());
}

void write_keys(io::ByteWriter& out, const std::vector<GroupKey>& keys) {
  out.put<uint64_t>(keys.size());
  for (const GroupKey& k : keys) {
    out.put(k.step);
    out.put(k.round);
    out.put(k.slot);
  }
}

std::vector<GroupKey> read_keys(io::ByteReader& in) {
  std::vector<GroupKey> keys(in.get<uint64_t>());
  for (GroupKey& k : keys) {
    k.step = in.get<int64_t>();
    k.round = in.get<int64_t>();
    k.slot = in.get<int64_t>();
  }
  return keys;
}

void GroupInbox::file(const uint8_t* data, size_t size) {
  io::ByteReader r(data, size);
  const std::vector<GroupKey> keys = read_keys(r);
  ACERL_CHECK(keys.size() == 1, "a group message names ", keys.size(), " keys, not 1");
  std::vector<Rollout> group = read_rollouts(r);
  ACERL_CHECK(r.done(), "the group message of ", keys[0].name(), " has trailing bytes");
  ACERL_CHECK(groups_.emplace(keys[0], std::move(group)).second, "the group of ", keys[0].name(),
              " arrived twice");
}

bool GroupInbox::has_all(const std::vector<GroupKey>& keys) const {
  for (const GroupKey& k : keys)
    if (!has(k)) return false;
  return true;
}

std::vector<Rollout> GroupInbox::take(const std::vector<GroupKey>& keys) {
  for (const GroupKey& k : keys)
    ACERL_CHECK(has(k), "the group of ", k.name(), " has not arrived");
  std::vector<Rollout> out;
  for (const GroupKey& k : keys) {
    auto at = groups_.find(k);
    for (Rollout& r : at->second) out.push_back(std::move(r));
    groups_.erase(at);
  }
  return out;
}

}  // namespace acerl::rl
