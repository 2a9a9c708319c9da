// The shared BPE piece cache; see piece_cache.h.
#include "tokenizer/piece_cache.h"

#include <mutex>

namespace acerl::tokenizer {

bool PieceCache::find(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() > max_piece_bytes_) return false;
  std::shared_lock<std::shared_mutex> lock(mutex_);
  auto it = spans_.find(piece);
  if (it == spans_.end()) return false;
  const int32_t* ids = ids_.data() + it->second.offset;
  out.insert(out.end(), ids, ids + it->second.count);
  return true;
}

void PieceCache::insert(std::string_view piece, const std::vector<int32_t>& ids, size_t begin) {
  if (piece.size() > max_piece_bytes_) return;
  std::unique_lock<std::shared_mutex> lock(mutex_);
  if (spans_.size() >= max_entries_ || spans_.count(piece)) return;
  keys_.emplace_back(piece);
  Span span{static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(ids.size() - begin)};
  ids_.insert(ids_.end(), ids.begin() + begin, ids.end());
  spans_.emplace(keys_.back(), span);
}

}  // namespace acerl::tokenizer
