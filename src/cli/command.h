// defines: Command (one `acerl <name>` subcommand: flags, config sections, entry point),
// Invocation (what the command line gave it) and cli_main, the dispatcher main() calls.
// Every command gets --help generated from its flags and from the Schema of its sections.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <vector>

#include "config/config.h"
#include "config/ini.h"
#include "config/schema.h"
#include "runtime/mpi_runtime.h"

namespace acerl::cli {

struct Invocation {
  std::vector<std::string> positional;          // arguments that are neither flags nor *.ini
  std::string config_path;                      // the *.ini argument, "" when none
  boost::program_options::variables_map flags;  // the command's own --flags
  config::Config config;                        // typed, validated configuration
  std::string resolved_config;                  // INI text of `config`, for logs and HDF5
};

struct Command {
  std::string name;
  std::string summary;  // one line, for `acerl --help`
  std::string usage;    // arguments after `acerl <name>`
  std::string details;  // paragraph(s) printed by `acerl <name> --help`
  // Adds the command's own flags (not config keys).
  std::function<void(boost::program_options::options_description&)> add_flags;
  // Registers the config sections the command reads; empty when it reads none.
  std::function<void(config::Schema&, config::Config&)> describe_config;
  // The command itself; empty while the issue that implements it has not landed.
  std::function<int(MpiRuntime&, Invocation&)> run;
  std::string pending;      // for an unimplemented command: what brings it
  bool log_config = false;  // rank 0 prints the resolved config first (the long jobs)
};

// All subcommands, in the order `acerl --help` lists them.
const std::vector<Command>& commands();
// Every config section of every command (what config files are checked against).
void describe_all_sections(config::Schema& schema, config::Config& config);

// Parses argv, handles --help/--version/--check, validates the config collectively and runs the
// command. Returns the exit code.
int cli_main(MpiRuntime& runtime, int argc, char** argv);

// Builds the Schema of `command` and loads `overrides` then the INI file into `invocation`.
// Throws UsageError on any bad key or value. Exposed for tests.
void load_config(const Command& command, Invocation& invocation,
                 const std::vector<config::ConfigEntry>& overrides);

}  // namespace acerl::cli
