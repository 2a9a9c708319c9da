// defines: Error, UsageError, str(), ACERL_CHECK / ACERL_USAGE_CHECK.
// Every failure in acerl is one of two exceptions: Error (a bug or a broken environment on this
// rank) or UsageError (bad input the user can fix: config, data file, layout). The runtime turns
// them into `rank N: <message>` and a non-zero exit of the whole job.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace acerl {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input: names the file/line or key, what was found and what would be valid.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Concatenates anything streamable: str("layer ", i, " of ", n).
template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

// `text` as it goes into a one-line message: at most `max_chars` characters (then "... (N bytes)"),
// so that a megabyte of bad input is not echoed whole on stderr.
inline std::string clip_text(const std::string& text, size_t max_chars = 80) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars) + "... (" + std::to_string(text.size()) + " bytes)";
}

}  // namespace acerl

#define ACERL_CHECK(cond, ...)                                    \
  do {                                                            \
    if (!(cond)) throw ::acerl::Error(::acerl::str(__VA_ARGS__)); \
  } while (0)

#define ACERL_USAGE_CHECK(cond, ...)                                   \
  do {                                                                 \
    if (!(cond)) throw ::acerl::UsageError(::acerl::str(__VA_ARGS__)); \
  } while (0)
