// defines: BpeModel, the byte-level BPE model of a tokenizer.json: vocabulary, merge ranks and
// the merge loop that turns one pre-tokenized piece into token ids, with a shared cache of
// pieces already seen. Thread-safe: encode() is const and may run on several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace acerl::tokenizer {

class PieceCache;

class BpeModel {
 public:
  using Merge = std::pair<std::string, std::string>;
  // `vocab`: entry (byte-level text) -> id; `merges` in rank order. With `ignore_merges` a piece
  // that is a vocabulary entry as a whole is that entry (Llama-3 style). Throws UsageError
  // naming `source` for merges over unknown entries and for a vocabulary lacking a byte.
  BpeModel(const std::vector<std::pair<std::string, int32_t>>& vocab,
           const std::vector<Merge>& merges, bool ignore_merges, const std::string& source);
  ~BpeModel();
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one piece given as raw bytes (before the byte-to-unicode map).
  void encode(std::string_view piece, std::vector<int32_t>& out) const;

  std::optional<int32_t> find(std::string_view entry) const;
  // The vocabulary entry of `id`, or nullptr when the model has none.
  const std::string* entry(int32_t id) const;
  int32_t end_id() const { return static_cast<int32_t>(entries_.size()); }  // max id + 1

 private:
  struct PairSlot {  // open-addressing slot: (left, right) -> (rank, merged id)
    uint64_t key = ~uint64_t(0);
    int32_t rank = 0, merged = 0;
  };
  const PairSlot* find_pair(int32_t left, int32_t right) const;
  void add_pair(int32_t left, int32_t right, int32_t rank, int32_t merged);
  void merge_short(std::vector<int32_t>& symbols) const;
  void merge_long(std::vector<int32_t>& symbols) const;

  std::unordered_map<std::string, int32_t> ids_;
  std::vector<std::string> entries_;  // by id; empty where the model has no entry
  int32_t byte_ids_[256];
  std::vector<PairSlot> pairs_;  // power-of-two size, at most half full
  uint64_t pair_mask_ = 0;
  bool ignore_merges_ = false;
  std::unique_ptr<PieceCache> cache_;
};

}  // namespace acerl::tokenizer
