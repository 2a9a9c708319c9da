// The byte-level BPE merge loop; see bpe.h. A piece starts as one symbol per byte; the adjacent
// pair of lowest merge rank (leftmost on ties) is merged until no pair has a rank.
#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <functional>
#include <queue>

#include "runtime/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/piece_cache.h"

namespace acerl::tokenizer {
namespace {

// Pieces up to this many symbols use the quadratic scan, which beats a heap on short words.
constexpr size_t kShortPiece = 48;

uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

uint64_t pair_hash(uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) >> 17; }

}  // namespace

BpeModel::BpeModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
                   const std::vector<Merge>& merges, bool ignore_merges, const std::string& source)
    : ignore_merges_(ignore_merges), cache_(std::make_unique<PieceCache>(1 << 18, 256)) {
  // The ids of a BPE vocabulary are dense: each of 0 .. size - 1 exactly once. Checked before
  // anything is allocated by id (one huge id would otherwise allocate gigabytes).
  const auto size = static_cast<int64_t>(vocab.size());
  for (const auto& [text, id] : vocab)
    ACERL_USAGE_CHECK(id >= 0 && id < size, source, ": vocabulary entry '", clip_text(text),
                      "' has id ", id, "; the ", size, " entries must have the ids 0 .. ", size - 1,
                      " (each once)");
  entries_.resize(static_cast<size_t>(size));
  std::vector<bool> seen(static_cast<size_t>(size), false);
  ids_.reserve(vocab.size());
  for (const auto& [text, id] : vocab) {
    ACERL_USAGE_CHECK(!seen[static_cast<size_t>(id)], source, ": vocabulary entries '",
                      clip_text(entries_[static_cast<size_t>(id)]), "' and '", clip_text(text),
                      "' share the id ", id, " (each id must name one token)");
    seen[static_cast<size_t>(id)] = true;
    entries_[id] = text;
    ids_.emplace(text, id);
  }
  for (int b = 0; b < 256; ++b) {
    auto id = find(byte_level_encode(std::string(1, static_cast<char>(b))));
    ACERL_USAGE_CHECK(id, source, ": the vocabulary lacks the byte-level entry of byte ", b,
                      " (a byte-level BPE vocabulary has all 256)");
    byte_ids_[b] = *id;
  }
  size_t capacity = 16;
  while (capacity < 2 * merges.size() + 2) capacity *= 2;
  pairs_.resize(capacity);
  pair_mask_ = capacity - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    auto l = find(left), r = find(right), merged = find(left + right);
    ACERL_USAGE_CHECK(l && r && merged, source, ": merge ", rank, " '", left, " ", right, "': '",
                      !l   ? left
                      : !r ? right
                           : left + right,
                      "' is not in the vocabulary");
    add_pair(*l, *r, static_cast<int32_t>(rank), *merged);
  }
}

BpeModel::~BpeModel() = default;

std::optional<int32_t> BpeModel::find(std::string_view entry) const {
  auto it = ids_.find(std::string(entry));
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::entry(int32_t id) const {
  if (id < 0 || id >= end_id() || entries_[id].empty()) return nullptr;
  return &entries_[id];
}

void BpeModel::add_pair(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = pair_hash(key) & pair_mask_;; i = (i + 1) & pair_mask_) {
    if (pairs_[i].key == key) return;  // a repeated merge keeps its first (lowest) rank
    if (pairs_[i].key == ~uint64_t(0)) {
      pairs_[i] = {key, rank, merged};
      return;
    }
  }
}

const BpeModel::PairSlot* BpeModel::find_pair(int32_t left, int32_t right) const {
  const uint64_t key = pair_key(left, right);
  for (uint64_t i = pair_hash(key) & pair_mask_;; i = (i + 1) & pair_mask_) {
    if (pairs_[i].key == key) return &pairs_[i];
    if (pairs_[i].key == ~uint64_t(0)) return nullptr;
  }
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (cache_->find(piece, out)) return;
  const size_t begin = out.size();
  std::optional<int32_t> whole;
  if (ignore_merges_ && (whole = find(byte_level_encode(piece)))) {
    out.push_back(*whole);
  } else {
    thread_local std::vector<int32_t> symbols;
    symbols.clear();
    for (char b : piece) symbols.push_back(byte_ids_[static_cast<uint8_t>(b)]);
    if (symbols.size() <= kShortPiece) {
      merge_short(symbols);
    } else {
      merge_long(symbols);
    }
    out.insert(out.end(), symbols.begin(), symbols.end());
  }
  cache_->insert(piece, out, begin);
}

void BpeModel::merge_short(std::vector<int32_t>& symbols) const {
  int32_t rank[kShortPiece], merged[kShortPiece];  // of the pair (k, k + 1)
  size_t n = symbols.size();
  auto score = [&](size_t k) {
    const PairSlot* p = find_pair(symbols[k], symbols[k + 1]);
    rank[k] = p ? p->rank : INT32_MAX;
    merged[k] = p ? p->merged : -1;
  };
  for (size_t k = 0; k + 1 < n; ++k) score(k);
  while (n > 1) {
    size_t best = 0;
    for (size_t k = 1; k + 1 < n; ++k)
      if (rank[k] < rank[best]) best = k;
    if (rank[best] == INT32_MAX) break;
    symbols[best] = merged[best];
    symbols.erase(symbols.begin() + best + 1);
    --n;
    std::copy(rank + best + 1, rank + n, rank + best);
    std::copy(merged + best + 1, merged + n, merged + best);
    if (best > 0) score(best - 1);
    if (best + 1 < n) score(best);
  }
}

void BpeModel::merge_long(std::vector<int32_t>& symbols) const {
  struct Node {
    int32_t id, prev, next;  // prev/next: -1 at the ends
  };
  struct Candidate {
    int32_t rank, pos, left, right;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  const int32_t n = static_cast<int32_t>(symbols.size());
  std::vector<Node> nodes(n);
  for (int32_t i = 0; i < n; ++i) nodes[i] = {symbols[i], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || nodes[pos].next < 0) return;
    const int32_t left = nodes[pos].id, right = nodes[nodes[pos].next].id;
    if (const PairSlot* p = find_pair(left, right)) heap.push({p->rank, pos, left, right});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    Node& node = nodes[c.pos];
    // Stale when either side was merged since: ids only ever grow into longer entries.
    if (node.id != c.left || node.next < 0 || nodes[node.next].id != c.right) continue;
    node.id = find_pair(c.left, c.right)->merged;
    const int32_t gone = node.next;
    node.next = nodes[gone].next;
    if (node.next >= 0) nodes[node.next].prev = c.pos;
    nodes[gone].id = -1;
    push(node.prev);
    push(c.pos);
  }
  symbols.clear();
  for (int32_t i = 0; i >= 0; i = nodes[i].next) symbols.push_back(nodes[i].id);
}

}  // namespace acerl::tokenizer
