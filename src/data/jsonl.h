// defines: read_jsonl, the reader of every JSONL input (SFT records, prompts, benchmarks): one
// JSON object per line, errors naming file:line, or skipped and counted on request.
#pragma once

#include <functional>
#include <string>

#include "io/json.h"

namespace acerl::data {

struct JsonlStats {
  int64_t records = 0;  // lines handed to the callback successfully
  int64_t bad = 0;      // malformed lines skipped (skip_bad only)
};

// Calls `record(value, where)` ("file:line") for each non-blank line. A line that is not a JSON
// object, or for which `record` throws UsageError, stops with that error naming file:line, or
// is skipped and counted when `skip_bad`.
JsonlStats read_jsonl(
    const std::string& path, bool skip_bad,
    const std::function<void(const json::Value& value, const std::string& where)>& record);

}  // namespace acerl::data
