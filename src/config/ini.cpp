// INI reader that keeps file:line for every entry; see ini.h.
#include "config/ini.h"

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "runtime/error.h"

namespace acerl::config {
namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

bool valid_name(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return name.find("..") == std::string::npos;
}

// Value text after '=': a quoted string (with escapes) or bare text up to an inline comment.
std::string parse_value(const std::string& raw, const std::string& where) {
  std::string text = trim(raw);
  if (text.empty() || text.front() != '"') {
    for (size_t i = 1; i < text.size(); ++i)
      if (text[i] == '#' && (text[i - 1] == ' ' || text[i - 1] == '\t'))
        return trim(text.substr(0, i));
    return text;
  }
  std::string out;
  size_t i = 1;
  for (; i < text.size() && text[i] != '"'; ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    ACERL_USAGE_CHECK(i + 1 < text.size(), where, ": dangling backslash in quoted value");
    char c = text[++i];
    switch (c) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      default:
        throw UsageError(
            str(where, ": unknown escape \\", c, " in quoted value (valid: \\n \\t \\\" \\\\)"));
    }
  }
  ACERL_USAGE_CHECK(i < text.size(), where, ": quoted value is missing its closing '\"'");
  std::string rest = trim(text.substr(i + 1));
  ACERL_USAGE_CHECK(rest.empty() || rest.front() == '#', where,
                    ": unexpected text after the closing quote: '", rest, "'");
  return out;
}

}  // namespace

std::vector<ConfigEntry> parse_ini_text(const std::string& text, const std::string& name) {
  std::vector<ConfigEntry> entries;
  std::map<std::string, int> first_line;
  std::istringstream in(text);
  std::string section, line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = str(name, ":", line_no);
    std::string t = trim(line);
    if (t.empty() || t.front() == '#' || t.front() == ';') continue;
    if (t.front() == '[') {
      // A comment may follow the header: "[stage.math_8k]  # 8K responses".
      const auto close = t.find(']');
      ACERL_USAGE_CHECK(close != std::string::npos, where, ": section header '", t,
                        "' lacks its closing ']'");
      const std::string after = trim(t.substr(close + 1));
      ACERL_USAGE_CHECK(after.empty() || after.front() == '#' || after.front() == ';', where,
                        ": unexpected '", after, "' after the section header (only a # comment)");
      section = trim(t.substr(1, close - 1));
      ACERL_USAGE_CHECK(valid_name(section), where, ": bad section name '", section,
                        "' (letters, digits, '_', '-', and '.' between parts)");
      continue;
    }
    auto eq = t.find('=');
    ACERL_USAGE_CHECK(eq != std::string::npos, where,
                      ": expected 'key = value' or '[section]', got '", t, "'");
    std::string key = trim(t.substr(0, eq));
    ACERL_USAGE_CHECK(valid_name(key) && key.find('.') == std::string::npos, where,
                      ": bad key name '", key, "' (letters, digits, '_', '-')");
    ACERL_USAGE_CHECK(!section.empty(), where, ": key '", key,
                      "' appears before any [section] header");
    std::string full = section + "." + key;
    auto [it, inserted] = first_line.emplace(full, line_no);
    ACERL_USAGE_CHECK(inserted, where, ": key '", full, "' is already set on line ", it->second);
    entries.push_back({full, parse_value(t.substr(eq + 1), where), where});
  }
  return entries;
}

std::vector<ConfigEntry> read_ini(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ACERL_USAGE_CHECK(in.good(), "cannot open config file '", path, "'");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_ini_text(text.str(), path);
}

ConfigEntry parse_override(const std::string& arg) {
  const std::string where = str("command line '", arg, "'");
  ACERL_USAGE_CHECK(arg.rfind("--", 0) == 0, where, ": expected --section.key=value");
  auto eq = arg.find('=');
  ACERL_USAGE_CHECK(eq != std::string::npos, where,
                    ": a config override needs '=', as in --section.key=value");
  std::string key = arg.substr(2, eq - 2);
  ACERL_USAGE_CHECK(valid_name(key) && key.find('.') != std::string::npos, where, ": '", key,
                    "' is not a dotted section.key");
  // The shell already removed any quotes: the value is the rest of the argument, verbatim.
  return {key, arg.substr(eq + 1), "command line"};
}

}  // namespace acerl::config
