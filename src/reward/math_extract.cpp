// The answer extractor of the math reward; see math_extract.h.
#include "reward/math_extract.h"
#include "reward/text_util.h"

#include <cctype>
#include <vector>

namespace acerl::reward {
namespace {

// Content of the balanced group starting at text[open] == '{'; npos-length result when the
// group never closes (a response cut off inside the box).
bool braced_group(std::string_view text, size_t open, std::string* out) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {  // \{ and \} do not nest
      ++i;
      continue;
    }
    if (c == '{') ++depth;
    if (c == '}' && --depth == 0) {
      *out = std::string(text.substr(open + 1, i - open - 1));
      return true;
    }
  }
  return false;
}

// The argument of a box command ending at `after`: a braced group, or (for "\boxed 5") the
// following run up to whitespace or '$'.
bool box_argument(std::string_view text, size_t after, std::string* out) {
  size_t i = after;
  while (i < text.size() && is_space(text[i])) ++i;
  if (i >= text.size()) return false;
  if (text[i] == '{') return braced_group(text, i, out);
  if (i == after) return false;  // "\boxedx" is another command name, not a box
  size_t end = i;
  while (end < text.size() && !is_space(text[end]) && text[end] != '$') ++end;
  *out = std::string(text.substr(i, end - i));
  return end > i;
}

// Positions just after every "\boxed" / "\fbox" command in `text`.
std::vector<size_t> box_commands(std::string_view text) {
  std::vector<size_t> ends;
  for (size_t i = text.find('\\'); i != std::string_view::npos; i = text.find('\\', i + 1)) {
    for (std::string_view name : {std::string_view("\\boxed"), std::string_view("\\fbox")}) {
      if (text.substr(i, name.size()) != name) continue;
      size_t end = i + name.size();
      if (end < text.size() && std::isalpha(static_cast<unsigned char>(text[end]))) continue;
      ends.push_back(end);
    }
  }
  return ends;
}

std::string trimmed(std::string_view s) { return std::string(trim(s)); }

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Last case-insensitive occurrence of `needle` (lower-case) in `hay`.
size_t rfind_nocase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return std::string_view::npos;
  for (size_t i = hay.size() - needle.size() + 1; i-- > 0;) {
    size_t k = 0;
    while (k < needle.size() && lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

// The phrase fallback: the text after the last "answer is" / "answer:" up to the end of its
// line or sentence, with math delimiters and markdown emphasis removed.
ExtractedAnswer phrase_answer(std::string_view text) {
  size_t best = std::string_view::npos, best_end = 0;
  for (std::string_view cue : {std::string_view("answer is"), std::string_view("answer:"),
                               std::string_view("answer**:"), std::string_view("answer**")}) {
    size_t at = rfind_nocase(text, cue);
    if (at != std::string_view::npos && (best == std::string_view::npos || at > best)) {
      best = at;
      best_end = at + cue.size();
    }
  }
  if (best == std::string_view::npos) return {};
  std::string_view rest = text.substr(best_end);
  size_t end = 0;
  bool in_math = false;
  for (; end < rest.size(); ++end) {
    char c = rest[end];
    if (c == '$') in_math = !in_math;
    if (c == '\n' && end > 0 && !trimmed(rest.substr(0, end)).empty()) break;
    // A sentence ends at ". " or "." at the end, but "3.5" and "\ldots." inside math do not.
    if (c == '.' && !in_math && (end + 1 == rest.size() || is_space(rest[end + 1]))) break;
  }
  std::string out;
  for (char c : rest.substr(0, end))
    if (c != '$' && c != '*') out += c;
  out = trimmed(out);
  while (!out.empty() && out[0] == ':') out = trimmed(out.substr(1));  // "answer is: 5"
  if (out.size() >= 2 && out.compare(0, 2, "\\[") == 0) out = trimmed(out.substr(2));
  if (out.size() >= 2 && out.compare(out.size() - 2, 2, "\\]") == 0)
    out = trimmed(out.substr(0, out.size() - 2));
  if (out.size() >= 2 && out.compare(0, 2, "\\(") == 0) out = trimmed(out.substr(2));
  if (out.size() >= 2 && out.compare(out.size() - 2, 2, "\\)") == 0)
    out = trimmed(out.substr(0, out.size() - 2));
  while (!out.empty() && (out.back() == '.' || out.back() == ',')) out.pop_back();
  out = trimmed(out);
  if (out.empty()) return {};
  return {true, out, "phrase"};
}

}  // namespace

ExtractedAnswer last_boxed(std::string_view text) {
  std::vector<size_t> ends = box_commands(text);
  // The last box wins; an unclosed last box (cut-off response) falls back to the one before.
  for (size_t k = ends.size(); k-- > 0;) {
    std::string content;
    if (box_argument(text, ends[k], &content)) return {true, trimmed(content), "boxed"};
  }
  return {};
}

ExtractedAnswer extract_math_answer(std::string_view response) {
  static constexpr std::string_view close = "</think>";
  size_t think_end = response.rfind(close);
  std::string_view tail =
      think_end == std::string_view::npos ? response : response.substr(think_end + close.size());
  ExtractedAnswer boxed = last_boxed(tail);
  if (boxed.found) return boxed;
  return phrase_answer(tail);
}

}  // namespace acerl::reward
