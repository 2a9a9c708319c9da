// Canonical decomposition, canonical ordering and canonical composition (UAX #15); see nfc.h.
#include "tokenizer/nfc.h"

#include <algorithm>
#include <vector>

#include "tokenizer/unicode.h"

namespace acerl::tokenizer {
namespace {

bool quick_check_yes(std::string_view text) {
  const uint8_t* props = unicode::property_table();
  uint32_t cp = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {  // no ASCII character is NFC-unsafe
      ++pos;
      continue;
    }
    pos += unicode::decode_utf8(text, pos, cp);
    if (props[cp] & unicode::kNfcUnsafe) return false;
  }
  return true;
}

// Stable sort of every run of non-starters by combining class.
void canonical_order(std::vector<uint32_t>& cps, std::vector<uint8_t>& ccc) {
  ccc.resize(cps.size());
  for (size_t i = 0; i < cps.size(); ++i) ccc[i] = unicode::combining_class(cps[i]);
  for (size_t i = 0; i < cps.size();) {
    if (ccc[i] == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && ccc[j] != 0) ++j;
    // Runs are short (a handful of marks): insertion sort keeps equal classes in order.
    for (size_t a = i + 1; a < j; ++a)
      for (size_t b = a; b > i && ccc[b - 1] > ccc[b]; --b) {
        std::swap(ccc[b - 1], ccc[b]);
        std::swap(cps[b - 1], cps[b]);
      }
    i = j;
  }
}

// Canonical composition in place: each character composes with the last starter unless a
// character between them has a combining class >= its own (is "blocked").
void compose(std::vector<uint32_t>& cps, const std::vector<uint8_t>& ccc) {
  if (cps.empty()) return;
  size_t starter = 0, out = 1;
  bool have_starter = ccc[0] == 0;
  int last_ccc = have_starter ? 0 : 256;
  for (size_t i = 1; i < cps.size(); ++i) {
    const int c = ccc[i];
    const bool blocked = last_ccc != 0 && last_ccc >= c;
    if (have_starter && !blocked) {
      if (uint32_t composite = unicode::compose(cps[starter], cps[i])) {
        cps[starter] = composite;
        continue;
      }
    }
    if (c == 0) {
      starter = out;
      have_starter = true;
    }
    last_ccc = c;
    cps[out++] = cps[i];
  }
  cps.resize(out);
}

}  // namespace

std::string_view nfc(std::string_view text, std::string& buffer) {
  if (quick_check_yes(text)) return text;
  std::vector<uint32_t> cps;
  std::vector<uint8_t> ccc;
  cps.reserve(text.size());
  uint32_t cp = 0;
  for (size_t pos = 0; pos < text.size();) {
    const int n = unicode::decode_utf8(text, pos, cp);
    pos += n > 0 ? n : 1;
    unicode::decompose(cp, cps);
  }
  canonical_order(cps, ccc);
  compose(cps, ccc);
  buffer.clear();
  for (uint32_t c : cps) unicode::append_utf8(buffer, c);
  return buffer;
}

}  // namespace acerl::tokenizer
