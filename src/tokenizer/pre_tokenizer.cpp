// The Qwen2 and GPT-2 split patterns as matchers; see pre_tokenizer.h. Each matcher returns the
// end of the match that the regex (Oniguruma, as in HF tokenizers) finds at a given character:
// alternatives are tried in order, the first that matches wins, quantifiers are greedy and give
// back characters only as far as the rest of the alternative needs.
#include "tokenizer/pre_tokenizer.h"

#include "runtime/error.h"
#include "tokenizer/unicode.h"

namespace acerl::tokenizer {
namespace {

const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

struct Char {
  uint32_t cp;
  uint32_t offset;  // byte offset in the window
  uint8_t props;
};

bool letter(const Char& c) { return c.props & unicode::kLetter; }
bool number(const Char& c) { return c.props & unicode::kNumber; }
bool space(const Char& c) { return c.props & unicode::kSpace; }
bool other(const Char& c) {  // [^\s\p{L}\p{N}]
  return !(c.props & (unicode::kLetter | unicode::kNumber | unicode::kSpace));
}
bool newline(const Char& c) { return c.cp == '\r' || c.cp == '\n'; }

template <class Pred>
size_t run(const Char* c, size_t i, size_t n, Pred pred) {
  while (i < n && pred(c[i])) ++i;
  return i;
}

// Case-insensitive match of an ASCII lowercase letter; 's' also matches U+017F LONG S, which
// case-folds to 's' (the only non-ASCII fold among the contraction letters).
bool same_letter(uint32_t cp, char lower, bool ignore_case) {
  if (cp == static_cast<uint32_t>(lower)) return true;
  if (!ignore_case) return false;
  return cp == static_cast<uint32_t>(lower - 'a' + 'A') || (lower == 's' && cp == 0x17F);
}

// 's|'t|'re|'ve|'m|'ll|'d at c[i] (an apostrophe): the end of the match, or i when none.
size_t contraction(const Char* c, size_t i, size_t n, bool ignore_case) {
  static const char* const kSuffixes[] = {"s", "t", "re", "ve", "m", "ll", "d"};
  for (const char* suffix : kSuffixes) {
    size_t j = i + 1;
    for (const char* s = suffix; *s && j < n && same_letter(c[j].cp, *s, ignore_case); ++s) ++j;
    if (j - i - 1 == std::char_traits<char>::length(suffix)) return j;
  }
  return i;
}

// \s+(?!\S) then \s+ at a white-space character: the run, less its last character when
// non-white-space follows and the run has more than one character.
size_t trailing_space(const Char* c, size_t i, size_t n) {
  const size_t j = run(c, i, n, space);
  return j == n || j - i < 2 ? j : j - 1;
}

size_t match_qwen2(const Char* c, size_t i, size_t n) {
  if (c[i].cp == '\'') {
    size_t j = contraction(c, i, n, true);
    if (j > i) return j;
  }
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (letter(c[i])) return run(c, i, n, letter);
  if (!newline(c[i]) && !number(c[i]) && i + 1 < n && letter(c[i + 1]))
    return run(c, i + 1, n, letter);
  // \p{N}
  if (number(c[i])) return i + 1;
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  size_t p = c[i].cp == ' ' && i + 1 < n && other(c[i + 1]) ? i + 1 : i;
  if (other(c[p])) return run(c, run(c, p, n, other), n, newline);
  // \s*[\r\n]+ : up to the last line break of the white-space run
  const size_t j = run(c, i, n, space);
  for (size_t k = j; k > i; --k)
    if (newline(c[k - 1])) return k;
  return trailing_space(c, i, n);
}

size_t match_gpt2(const Char* c, size_t i, size_t n) {
  if (c[i].cp == '\'') {
    size_t j = contraction(c, i, n, false);
    if (j > i) return j;
  }
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
  const size_t p = c[i].cp == ' ' && i + 1 < n ? i + 1 : i;
  for (bool (*cls)(const Char&) : {letter, number, other})
    if (cls(c[p])) return run(c, p, n, cls);
  return trailing_space(c, i, n);
}

}  // namespace

SplitPattern parse_split_pattern(const std::string& regex, const std::string& source) {
  if (regex == kQwen2Pattern) return SplitPattern::qwen2;
  if (regex == kGpt2Pattern) return SplitPattern::gpt2;
  throw UsageError(str(source, ": unsupported pre-tokenizer split pattern ", regex,
                       " (supported: the Qwen2 pattern ", kQwen2Pattern, " and the GPT-2 pattern ",
                       kGpt2Pattern, ")"));
}

const char* pattern_text(SplitPattern pattern) {
  return pattern == SplitPattern::qwen2 ? kQwen2Pattern : kGpt2Pattern;
}

void split(SplitPattern pattern, std::string_view text,
           const std::function<void(std::string_view)>& emit) {
  // Text is matched a window at a time so that long texts need no character array of their
  // size. A window ends before a space that follows a non-space: no match of either pattern
  // spans that point or looks past it, so matching the windows apart equals matching the whole.
  constexpr size_t kWindow = 4096;
  // The thread's buffer, unless a split further up this thread's stack (a pre-tokenizer with
  // two split steps) is using it.
  thread_local std::vector<Char> buffer;
  thread_local bool buffer_busy = false;
  std::vector<Char> own;
  const bool nested = buffer_busy;
  std::vector<Char>& chars = nested ? own : buffer;
  struct Release {
    bool active;
    ~Release() {
      if (active) buffer_busy = false;
    }
  } release{!nested};
  buffer_busy = true;
  const uint8_t* props = unicode::property_table();
  for (size_t base = 0; base < text.size();) {
    chars.clear();
    size_t pos = base;
    while (pos < text.size()) {
      uint32_t cp = static_cast<uint8_t>(text[pos]);
      int len = 1;
      if (cp >= 0x80) {
        len = unicode::decode_utf8(text, pos, cp);
        if (len == 0) len = 1;  // callers pass valid UTF-8; stay in bounds regardless
      }
      if (chars.size() >= kWindow && cp == ' ' && !space(chars.back())) break;
      chars.push_back({cp, static_cast<uint32_t>(pos - base), props[cp]});
      pos += len;
    }
    const std::string_view window = text.substr(base, pos - base);
    const size_t n = chars.size();
    const Char* c = chars.data();
    for (size_t i = 0; i < n;) {
      const size_t j = pattern == SplitPattern::qwen2 ? match_qwen2(c, i, n) : match_gpt2(c, i, n);
      const size_t end = j < n ? c[j].offset : window.size();
      emit(window.substr(c[i].offset, end - c[i].offset));
      i = j;
    }
    base = pos;
  }
}

void split(SplitPattern pattern, std::string_view text, std::vector<std::string_view>& pieces) {
  split(pattern, text, [&](std::string_view piece) { pieces.push_back(piece); });
}

}  // namespace acerl::tokenizer
