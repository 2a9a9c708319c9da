// JSONL reader; see jsonl.h.
#include "data/jsonl.h"

#include <fstream>

#include "runtime/error.h"
#include "runtime/log.h"
#include "tokenizer/unicode.h"

namespace acerl::data {

JsonlStats read_jsonl(
    const std::string& path, bool skip_bad,
    const std::function<void(const json::Value& value, const std::string& where)>& record) {
  std::ifstream in(path, std::ios::binary);
  ACERL_USAGE_CHECK(in.good(), "cannot open data file '", path, "'");
  JsonlStats stats;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    try {
      const size_t bad = tokenizer::unicode::find_invalid_utf8(line);
      ACERL_USAGE_CHECK(bad == std::string::npos, where, ": invalid UTF-8 at byte ", bad + 1,
                        " of the line (JSONL is UTF-8 text)");
      json::Value value = json::parse(line, where);
      ACERL_USAGE_CHECK(value.is_object(), where, ": expected a JSON object per line");
      record(value, where);
      ++stats.records;
    } catch (const UsageError& e) {
      if (!skip_bad) throw;
      if (stats.bad++ < 5) logr(str("skipping bad line: ", e.what()));
    }
  }
  return stats;
}

}  // namespace acerl::data
