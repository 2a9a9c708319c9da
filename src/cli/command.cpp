// The `acerl` command-line dispatcher; see command.h.
#include "cli/command.h"

#include <torch/torch.h>

#include <iostream>

#include "cli/check.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/threads.h"
#include "runtime/version.h"

namespace po = boost::program_options;

namespace acerl::cli {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string global_help() {
  std::string out =
      "acerl: SFT and GRPO post-training of reasoning language models, MPI-native.\n\n"
      "usage: acerl <command> [CONFIG.ini] [--section.key=value ...] [options]\n"
      "       acerl --version | --check [DIR] | --help\n\n"
      "commands:\n";
  for (const auto& c : commands()) {
    std::string name = "  " + c.name;
    out += name + std::string(name.size() < 20 ? 20 - name.size() : 1, ' ') + c.summary +
           (c.run ? "" : "  (not implemented yet)") + "\n";
  }
  out +=
      "\n  --version           acerl, git commit, LibTorch, MPI and HDF5 versions\n"
      "  --check [DIR]       probe MPI, LibTorch and parallel HDF5 on every rank (run it under\n"
      "                      srun/mpirun); writes DIR/acerl-check.h5 (DIR defaults to .)\n\n"
      "`acerl <command> --help` lists the command's options and every config key.\n";
  return out;
}

po::options_description flag_description(const Command& command) {
  po::options_description flags("options");
  flags.add_options()("help,h", "print this help and exit");
  if (command.add_flags) command.add_flags(flags);
  return flags;
}

std::string command_help(const Command& command) {
  std::ostringstream out;
  out << "usage: acerl " << command.name << " " << command.usage << "\n\n"
      << command.summary << "\n";
  if (!command.details.empty()) out << "\n" << command.details << "\n";
  if (!command.run) out << "\nNot implemented yet: " << command.pending << "\n";
  out << "\n" << flag_description(command);
  if (command.describe_config) {
    config::Config defaults;
    config::Schema schema;
    command.describe_config(schema, defaults);
    out << "\nconfiguration: an INI file (`[section]` then `key = value`), each key overridable as "
           "--section.key=value\n"
        << schema.help();
  }
  return out.str();
}

// Splits argv (after the command name) into the command's flags, config overrides
// (--a.b=value), the config file (*.ini) and other positional arguments.
void parse_arguments(const Command& command, const std::vector<std::string>& args,
                     Invocation& invocation, std::vector<config::ConfigEntry>& overrides) {
  po::options_description flags = flag_description(command);
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    bool dotted =
        arg.rfind("--", 0) == 0 && arg.substr(0, arg.find('=')).find('.') != std::string::npos;
    if (dotted) {
      ACERL_USAGE_CHECK(arg.find('=') != std::string::npos || !command.describe_config, "'", arg,
                        "': write config overrides as ", arg, "=VALUE");
      ACERL_USAGE_CHECK(command.describe_config, "acerl ", command.name,
                        " takes no configuration keys (got '", arg, "')");
      overrides.push_back(config::parse_override(arg));
    } else {
      rest.push_back(arg);
    }
  }
  po::parsed_options parsed =
      po::command_line_parser(rest).options(flags).allow_unregistered().run();
  for (const auto& option : parsed.options) {
    if (option.position_key >= 0 || option.string_key.empty()) {
      for (const auto& token : option.original_tokens) {
        if (ends_with(token, ".ini") && command.describe_config && invocation.config_path.empty()) {
          invocation.config_path = token;
        } else {
          invocation.positional.push_back(token);
        }
      }
    } else if (option.unregistered) {
      throw UsageError(str("acerl ", command.name, ": unknown option '",
                           option.original_tokens.front(), "' (see acerl ", command.name,
                           " --help)"));
    }
  }
  po::store(parsed, invocation.flags);
  po::notify(invocation.flags);
}

const Command& find_command(const std::string& name) {
  for (const auto& c : commands())
    if (c.name == name) return c;
  std::string names;
  for (const auto& c : commands()) names += (names.empty() ? "" : ", ") + c.name;
  throw UsageError(str("unknown command '", name, "' (commands: ", names, "; see acerl --help)"));
}

}  // namespace

void load_config(const Command& command, Invocation& invocation,
                 const std::vector<config::ConfigEntry>& overrides) {
  if (!command.describe_config) return;
  // Every section is accepted (one INI can serve sft, generate and eval of an experiment);
  // a key no command knows is still an error.
  config::Schema schema;
  describe_all_sections(schema, invocation.config);
  schema.allow_dynamic("stage", "an RL stage (see acerl rl --help)");
  // Command line first (it beats the file), and within it the last occurrence of a key wins.
  std::vector<config::ConfigEntry> entries(overrides.rbegin(), overrides.rend());
  if (!invocation.config_path.empty()) {
    auto from_file = config::read_ini(invocation.config_path);
    entries.insert(entries.end(), from_file.begin(), from_file.end());
  }
  auto stage_entries = schema.load(entries);
  invocation.resolved_config = schema.resolved();
  invocation.config.stages =
      config::parse_stages(stage_entries, invocation.config.rl, &invocation.resolved_config);
}

int cli_main(MpiRuntime& runtime, int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    if (runtime.rank() == 0) std::cout << global_help();
    return args.empty() ? 2 : 0;
  }
  if (args[0] == "--version") {
    log0(version_report());
    return 0;
  }
  if (args[0] == "--check") {
    return run_check(runtime, args.size() > 1 ? args[1] : ".");
  }

  const Command* command = nullptr;
  Invocation invocation;
  std::vector<config::ConfigEntry> overrides;
  bool help = false;
  runtime.agree([&] {
    command = &find_command(args[0]);
    parse_arguments(*command, std::vector<std::string>(args.begin() + 1, args.end()), invocation,
                    overrides);
    help = invocation.flags.count("help") > 0;
    if (!help) load_config(*command, invocation, overrides);
  });
  if (help) {
    if (runtime.rank() == 0) std::cout << command_help(*command);
    return 0;
  }
  if (!command->run) {
    log0(str("acerl ", command->name, ": not implemented yet (", command->pending, ")"));
    return 2;
  }
  if (command->describe_config) configure_threads(runtime, invocation.config.run.threads);
  if (command->log_config)
    log0(str("# acerl ", command->name, " resolved configuration\n", invocation.resolved_config));
  return command->run(runtime, invocation);
}

}  // namespace acerl::cli
