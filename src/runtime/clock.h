// defines: wall-clock times as Unix seconds, for run.deadline. `process_start_unix` is when the
// kernel started this process, so a "+DURATION" deadline counts the time spent loading the
// libraries too, as the scheduler's own time limit does.
#pragma once

namespace acerl {

double unix_now();
// The kernel's start time of this process (Linux: /proc/self/stat against CLOCK_BOOTTIME, to
// about 10 ms); elsewhere, or when /proc is unreadable, the first call's time.
double process_start_unix();

}  // namespace acerl
