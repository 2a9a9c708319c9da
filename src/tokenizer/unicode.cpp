// Unicode lookups over the generated tables; see unicode.h.
#include "tokenizer/unicode.h"

#include <algorithm>
#include <memory>

#include "tokenizer/unicode_tables.h"

namespace acerl::tokenizer::unicode {
namespace {

// Hangul syllable arithmetic (Unicode chapter 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

std::unique_ptr<uint8_t[]> build_property_table() {
  auto table = std::make_unique<uint8_t[]>(kMaxCodePoint + 1);
  std::fill(table.get(), table.get() + kMaxCodePoint + 1, 0);
  auto mark = [&](const tables::Range* ranges, size_t n, uint8_t bit) {
    for (size_t i = 0; i < n; ++i)
      for (uint32_t cp = ranges[i].lo; cp <= ranges[i].hi; ++cp) table[cp] |= bit;
  };
  mark(tables::kLetter, tables::kLetter_size, kLetter);
  mark(tables::kNumber, tables::kNumber_size, kNumber);
  mark(tables::kWhiteSpace, tables::kWhiteSpace_size, kSpace);
  mark(tables::kWord, tables::kWord_size, kWord);
  mark(tables::kNfcUnsafe, tables::kNfcUnsafe_size, kNfcUnsafe);
  return table;
}

// Length of a UTF-8 sequence led by b0 and the valid range of its second byte; 0 if b0 cannot
// lead one. The narrowed second-byte ranges exclude overlongs, surrogates and > U+10FFFF.
int sequence_shape(uint8_t b0, uint8_t& lo, uint8_t& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) return 2;
  if (b0 == 0xE0) lo = 0xA0;
  if (b0 == 0xED) hi = 0x9F;
  if (b0 >= 0xE0 && b0 <= 0xEF) return 3;
  if (b0 == 0xF0) lo = 0x90;
  if (b0 == 0xF4) hi = 0x8F;
  if (b0 >= 0xF0 && b0 <= 0xF4) return 4;
  return 0;
}

// Number of bytes at text[pos] that form a valid sequence (returned as positive) or, when
// ill-formed, minus the length of its maximal ill-formed subpart (at least 1).
int scan_sequence(std::string_view text, size_t pos, uint32_t& cp) {
  const auto b0 = static_cast<uint8_t>(text[pos]);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  uint8_t lo, hi;
  const int n = sequence_shape(b0, lo, hi);
  if (n == 0) return -1;
  cp = b0 & (0xFF >> (n + 1));
  for (int k = 1; k < n; ++k) {
    if (pos + k >= text.size()) return -k;
    const auto b = static_cast<uint8_t>(text[pos + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return -k;
    cp = (cp << 6) | (b & 0x3F);
  }
  return n;
}

}  // namespace

const uint8_t* property_table() {
  static const std::unique_ptr<uint8_t[]> table = build_property_table();
  return table.get();
}

uint8_t properties(uint32_t cp) { return cp <= kMaxCodePoint ? property_table()[cp] : 0; }

int decode_utf8(std::string_view text, size_t pos, uint32_t& cp) {
  const int n = scan_sequence(text, pos, cp);
  return n > 0 ? n : 0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t find_invalid_utf8(std::string_view text) {
  uint32_t cp;
  for (size_t pos = 0; pos < text.size();) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const int n = scan_sequence(text, pos, cp);
    if (n < 0) return pos;
    pos += n;
  }
  return std::string_view::npos;
}

void append_utf8_lossy(std::string& out, std::string_view bytes) {
  uint32_t cp;
  size_t clean = 0;  // start of the valid run not yet copied
  for (size_t pos = 0; pos < bytes.size();) {
    const int n = scan_sequence(bytes, pos, cp);
    if (n > 0) {
      pos += n;
      continue;
    }
    out.append(bytes.data() + clean, pos - clean);
    out += "\xEF\xBF\xBD";
    pos += -n;
    clean = pos;
  }
  out.append(bytes.data() + clean, bytes.size() - clean);
}

uint8_t combining_class(uint32_t cp) {
  const auto* begin = tables::kCombiningClass;
  const auto* end = begin + tables::kCombiningClass_size;
  const auto* it = std::upper_bound(
      begin, end, cp, [](uint32_t c, const tables::ClassRange& r) { return c < r.lo; });
  if (it == begin) return 0;
  --it;
  return cp <= it->hi ? it->ccc : 0;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  const auto* begin = tables::kDecomposition;
  const auto* end = begin + tables::kDecomposition_size;
  const auto* it = std::lower_bound(
      begin, end, cp, [](const tables::Decomposition& d, uint32_t c) { return d.cp < c; });
  if (it == end || it->cp != cp) {
    out.push_back(cp);
    return;
  }
  out.insert(out.end(), tables::kDecompositionData + it->offset,
             tables::kDecompositionData + it->offset + it->length);
}

uint32_t compose(uint32_t first, uint32_t second) {
  if (first >= kLBase && first < kLBase + kLCount && second >= kVBase && second < kVBase + kVCount)
    return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
  if (first >= kSBase && first < kSBase + kSCount && (first - kSBase) % kTCount == 0 &&
      second > kTBase && second < kTBase + kTCount)
    return first + (second - kTBase);
  const auto* begin = tables::kComposition;
  const auto* end = begin + tables::kComposition_size;
  const auto* it =
      std::lower_bound(begin, end, std::make_pair(first, second),
                       [](const tables::Composition& c, std::pair<uint32_t, uint32_t> k) {
                         return c.first != k.first ? c.first < k.first : c.second < k.second;
                       });
  return it != end && it->first == first && it->second == second ? it->composite : 0;
}

const char* version() { return tables::kUnicodeVersion; }

}  // namespace acerl::tokenizer::unicode
