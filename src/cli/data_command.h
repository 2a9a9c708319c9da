// defines: the actions of `acerl data` (tokenize, score, synth): the data tools users run
// offline on their files. Each action lives with its module and is listed in data_actions().
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <vector>

#include "cli/command.h"

namespace acerl::cli {

struct DataAction {
  std::string name;
  std::string summary;
  std::string usage;  // after `acerl data <name>`
  // Adds this action's own flags; --input/--output are shared and added by the data command.
  std::function<void(boost::program_options::options_description&)> add_flags;
  // positional[0] is the action name. Empty while the issue that implements it has not landed.
  std::function<int(MpiRuntime&, Invocation&)> run;
  std::string pending;
};

const std::vector<DataAction>& data_actions();
void add_data_flags(boost::program_options::options_description& flags);
std::string data_details();
int run_data(MpiRuntime& runtime, Invocation& invocation);

}  // namespace acerl::cli
