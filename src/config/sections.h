// defines: Config and its section structs: the typed configuration of a run. Each section is a
// plain struct with defaults; describe_<section> registers its keys (doc, constraints) with a
// Schema, which gives parsing, --help and validation from that single definition.
#pragma once

#include <cstdint>
#include <string>

#include "config/schema.h"

namespace acerl::config {

struct RunConfig {
  std::string name = "acerl";
  std::string dir = "acerl-run";
  int64_t seed = 1234;
  int threads = 0;
};

struct ParallelConfig {
  int tp = 1;
  int pp = 1;
  int dp = 0;  // 0: whatever is left of the world size after tp * pp
};

struct LogConfig {
  int interval = 1;
};

struct Config {
  RunConfig run;
  ParallelConfig parallel;
  LogConfig log;
};

void describe_run(Schema& schema, RunConfig& c);
void describe_parallel(Schema& schema, ParallelConfig& c);
void describe_log(Schema& schema, LogConfig& c);

}  // namespace acerl::config
