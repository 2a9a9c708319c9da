// defines: ConfigEntry, read_ini, parse_overrides: the raw (key, value, origin) triples of a run's
// configuration, from an INI file and from `--section.key=value` command-line overrides. Typing
// and validation happen in schema.h; this layer only remembers where every value came from.
#pragma once

#include <string>
#include <vector>

namespace acerl::config {

struct ConfigEntry {
  std::string key;     // dotted: "sft.seq_len", "stage.math_8k.max_len"
  std::string value;   // unquoted, escapes resolved
  std::string origin;  // "inputs/x.ini:12" or "command line"
};

// INI syntax: `[section]` or `[section.sub]` headers, `key = value` lines, `#`/`;` comment
// lines, inline `# comment` after whitespace, "double-quoted values" keep spaces and `#` and
// understand \n \t \" \\. A key given twice is an error naming both lines.
std::vector<ConfigEntry> read_ini(const std::string& path);
std::vector<ConfigEntry> parse_ini_text(const std::string& text, const std::string& name);

// Command-line overrides, `--section.key=value` only (an override must contain a dot and `=`).
ConfigEntry parse_override(const std::string& arg);

}  // namespace acerl::config
