// Wall-clock helpers; see clock.h.
#include "runtime/clock.h"

#include <time.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

namespace acerl {
namespace {

// Seconds since boot at which this process started, or -1. Field 22 of /proc/self/stat, in
// clock ticks; the fields before it follow the command name, which ends at the last ')'.
double start_since_boot() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(line.substr(close + 2));  // field 3 onwards
  std::string field;
  for (int i = 3; i < 22; ++i) fields >> field;
  unsigned long long ticks = 0;
  if (!(fields >> ticks)) return -1;
  const long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? static_cast<double>(ticks) / hz : -1;
}

double compute_process_start() {
  const double now = unix_now();
#ifdef CLOCK_BOOTTIME
  timespec boot{};
  const double started = start_since_boot();
  if (started >= 0 && clock_gettime(CLOCK_BOOTTIME, &boot) == 0) {
    const double age = boot.tv_sec + boot.tv_nsec * 1e-9 - started;
    if (age >= 0) return now - age;
  }
#endif
  return now;
}

}  // namespace

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double process_start_unix() {
  static const double start = compute_process_start();
  return start;
}

}  // namespace acerl
