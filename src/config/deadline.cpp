// run.deadline parsing; see deadline.h.
#include "config/deadline.h"

#include <cmath>
#include <cstdlib>
#include <vector>

#include "runtime/error.h"

namespace acerl::config {
namespace {

// A non-negative decimal number filling `text`; false otherwise.
bool number(const std::string& text, double* out) {
  if (text.empty() || text.find_first_not_of("0123456789.") != std::string::npos) return false;
  char* end = nullptr;
  *out = std::strtod(text.c_str(), &end);
  return *end == '\0' && std::isfinite(*out);
}

// Slurm's durations: S (here seconds, not Slurm's minutes), MM:SS, HH:MM:SS, D-HH, D-HH:MM,
// D-HH:MM:SS. Returns seconds, or -1 when `text` is none of these.
double duration_seconds(const std::string& text) {
  double days = 0;
  std::string rest = text;
  const auto dash = text.find('-');
  if (dash != std::string::npos) {
    if (!number(text.substr(0, dash), &days)) return -1;
    rest = text.substr(dash + 1);
  }
  std::vector<double> parts;
  size_t start = 0;
  while (true) {
    const auto colon = rest.find(':', start);
    double v = 0;
    if (!number(rest.substr(start, colon == std::string::npos ? std::string::npos : colon - start),
                &v))
      return -1;
    parts.push_back(v);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3) return -1;
  double seconds = 0;
  if (dash != std::string::npos) {  // D-HH[:MM[:SS]]
    const double scale[] = {3600, 60, 1};
    for (size_t i = 0; i < parts.size(); ++i) seconds += parts[i] * scale[i];
  } else {  // S, MM:SS, HH:MM:SS
    for (double p : parts) seconds = seconds * 60 + p;
  }
  return days * 86400 + seconds;
}

}  // namespace

std::string deadline_problem(const std::string& text) {
  if (text.empty()) return "";
  double value = 0;
  if (text[0] == '+' ? duration_seconds(text.substr(1)) > 0 : number(text, &value) && value > 0)
    return "";
  return "must be empty, a Unix time in seconds, or +DURATION (+3600, +90:00, +23:50:00, "
         "+1-00:00:00)";
}

double parse_deadline(const std::string& text, double start, const char* slurm_end_time) {
  if (text.empty()) {
    if (!slurm_end_time || !*slurm_end_time) return 0;
    double end = 0;
    // Slurm sets it for every job; an unlimited job has no meaningful end: ignore a bad value.
    return number(slurm_end_time, &end) ? end : 0;
  }
  const std::string problem = deadline_problem(text);
  ACERL_USAGE_CHECK(problem.empty(), "run.deadline = ", clip_text(text), ": ", problem);
  if (text[0] == '+') return start + duration_seconds(text.substr(1));
  double value = 0;
  number(text, &value);
  return value;
}

}  // namespace acerl::config
