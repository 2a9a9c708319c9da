// defines: PieceCache, the memo of BPE results by piece ("Ġthe" -> [279]) that makes encoding
// natural text cheap: most pieces repeat. Shared by all threads of a Tokenizer (readers take a
// shared lock); bounded, it stops growing when full rather than evicting.
#pragma once

#include <cstdint>
#include <deque>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace acerl::tokenizer {

class PieceCache {
 public:
  explicit PieceCache(size_t max_entries, size_t max_piece_bytes)
      : max_entries_(max_entries), max_piece_bytes_(max_piece_bytes) {}

  // Appends the cached ids of `piece` to `out`; false when it is not cached.
  bool find(std::string_view piece, std::vector<int32_t>& out) const;
  // Remembers ids[begin..) as the result for `piece` (ignored once full or for long pieces).
  void insert(std::string_view piece, const std::vector<int32_t>& ids, size_t begin);

 private:
  struct Span {
    uint32_t offset, count;
  };
  const size_t max_entries_, max_piece_bytes_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string_view, Span> spans_;  // keys point into keys_
  std::deque<std::string> keys_;                      // deque: elements never move
  std::vector<int32_t> ids_;
};

}  // namespace acerl::tokenizer
