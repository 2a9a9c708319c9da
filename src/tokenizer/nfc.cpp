// Canonical decomposition, canonical ordering and canonical composition (UAX #15); see nfc.h.
#include "tokenizer/nfc.h"

#include <algorithm>
#include <vector>

#include "tokenizer/unicode.h"

namespace acerl::tokenizer {
namespace {

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

// Full NFC of a stretch that starts at a safe character (or the text start) and ends before one.
void normalize_stretch(std::string_view text, std::string& out) {
  std::vector<uint32_t> cps;
  std::vector<uint8_t> ccc;
  uint32_t cp = 0;
  for (size_t pos = 0; pos < text.size();) {
    const int n = unicode::decode_utf8(text, pos, cp);
    pos += n > 0 ? n : 1;
    unicode::decompose(cp, cps);
  }
  canonical_order(cps, ccc);
  compose(cps, ccc);
  for (uint32_t c : cps) unicode::append_utf8(out, c);
}

}  // namespace

// Safe characters (see tools/gen_unicode_tables.py) are boundaries of NFC: the text is copied
// as is except for each stretch from the last safe character before an unsafe one up to the
// next safe character, which is normalised on its own.
std::string_view nfc(std::string_view text, std::string& buffer) {
  const uint8_t* props = unicode::property_table();
  size_t copied = 0;     // text[0, copied) is in buffer
  size_t last_safe = 0;  // start of the last safe character seen
  bool changed = false;
  uint32_t cp = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {  // ASCII is safe
      last_safe = pos++;
      continue;
    }
    const int n = unicode::decode_utf8(text, pos, cp);
    if (n > 0 && !(props[cp] & unicode::kNfcUnsafe)) {
      last_safe = pos;
      pos += n;
      continue;
    }
    if (!changed) buffer.clear();
    changed = true;
    size_t end = pos + (n > 0 ? n : 1);
    while (end < text.size()) {
      const int m = unicode::decode_utf8(text, end, cp);
      if (m > 0 && !(props[cp] & unicode::kNfcUnsafe)) break;
      end += m > 0 ? m : 1;
    }
    const size_t begin = std::max(last_safe, copied);
    buffer.append(text.data() + copied, begin - copied);
    normalize_stretch(text.substr(begin, end - begin), buffer);
    copied = pos = end;
  }
  if (!changed) return text;
  buffer.append(text.data() + copied, text.size() - copied);
  return buffer;
}

}  // namespace acerl::tokenizer
