// defines: the run.deadline syntax: parse_deadline turns "" / a Unix time / "+DURATION" (Slurm's
// time formats) and $SLURM_JOB_END_TIME into an absolute time; deadline_problem validates the text.
// The trainers' stop decision (train/stop_policy.h) uses the result.
#pragma once

#include <string>

namespace acerl::config {

// "" when `text` is a valid run.deadline, else what is wrong.
std::string deadline_problem(const std::string& text);

// The deadline as Unix seconds, or 0 for none. `start` is the job's start (Unix seconds), for
// "+DURATION"; `slurm_end_time` is $SLURM_JOB_END_TIME (nullptr or "" when unset), used when
// `text` is empty. Throws UsageError on a bad text.
double parse_deadline(const std::string& text, double start, const char* slurm_end_time);

}  // namespace acerl::config
