// Fenced-block scanner for the code reward; see code_extract.h.
#include "reward/code_extract.h"

#include <cctype>
#include <vector>

namespace acerl::reward {
namespace {

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

enum class Tag { python, bare, other };

// The info string's first word decides the language: "```python3 title" is Python.
Tag classify(std::string_view info) {
  info = trim(info);
  if (info.empty()) return Tag::bare;
  std::string word = lower(info.substr(0, info.find_first_of(" \t{")));
  if (word == "python" || word == "py" || word == "python3") return Tag::python;
  return Tag::other;
}

struct Block {
  Tag tag;
  std::string body;
};

std::vector<Block> fenced_blocks(std::string_view text) {
  std::vector<Block> blocks;
  bool open = false;
  Block current{Tag::bare, {}};
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    std::string_view stripped = trim(line);
    bool fence = stripped.substr(0, 3) == "```";
    if (!open && fence) {
      open = true;
      current = Block{classify(stripped.substr(3)), {}};
    } else if (open && fence && trim(stripped.substr(3)).empty()) {
      open = false;
      blocks.push_back(std::move(current));
    } else if (open) {
      current.body.append(line);
      current.body.push_back('\n');
    }
    pos = end + 1;
  }
  return blocks;
}

}  // namespace

std::optional<std::string> extract_python_code(std::string_view response) {
  size_t think = response.find("</think>");
  if (think != std::string_view::npos) response.remove_prefix(think + 8);
  std::vector<Block> blocks = fenced_blocks(response);
  for (Tag wanted : {Tag::python, Tag::bare}) {
    for (auto it = blocks.rbegin(); it != blocks.rend(); ++it)
      if (it->tag == wanted) return it->body;
  }
  return std::nullopt;
}

}  // namespace acerl::reward
