// `acerl trace`; see trace_command.h.
#include "cli/trace_command.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>

#include "io/h5.h"
#include "runtime/error.h"

namespace po = boost::program_options;

namespace acerl::cli {
namespace {

struct Column {
  std::string name;
  std::vector<double> values;  // one per row (vector metrics: their mean)
};

std::vector<Column> read_phase(const h5::Group& phase) {
  std::vector<Column> columns;
  std::function<void(const h5::Group&, const std::string&)> walk = [&](const h5::Group& g,
                                                                       const std::string& prefix) {
    for (const auto& name : g.children()) {
      H5O_info_t info;
      H5Oget_info_by_name(g.id(), name.c_str(), &info, H5P_DEFAULT);
      if (info.type == H5O_TYPE_GROUP) {
        walk(g.open_group(name), prefix + name + "/");
        continue;
      }
      h5::Dataset ds = h5::Dataset::open(g, name);
      h5::Shape shape = ds.shape();
      std::vector<double> raw(static_cast<size_t>(shape[0] * (shape.size() > 1 ? shape[1] : 1)));
      if (!raw.empty()) ds.read_all(raw.data(), h5::DType::f64);
      Column c{prefix + name, {}};
      const int64_t width = shape.size() > 1 ? shape[1] : 1;
      for (int64_t r = 0; r < shape[0]; ++r) {
        double sum = 0;
        for (int64_t k = 0; k < width; ++k) sum += raw[static_cast<size_t>(r * width + k)];
        c.values.push_back(sum / static_cast<double>(width));
      }
      columns.push_back(std::move(c));
    }
  };
  walk(phase, "");
  return columns;
}

}  // namespace

void add_trace_flags(po::options_description& flags) {
  flags.add_options()("csv", po::value<std::string>(),
                      "print this phase as CSV (one row per step)");
}

int run_trace(MpiRuntime& runtime, Invocation& inv) {
  if (runtime.rank() != 0) return 0;
  ACERL_USAGE_CHECK(inv.positional.size() == 1, "usage: acerl trace TRACE.h5 [--csv PHASE]");
  h5::File file = h5::File::open(inv.positional[0]);
  if (inv.flags.count("csv")) {
    const std::string phase = inv.flags["csv"].as<std::string>();
    ACERL_USAGE_CHECK(file.exists(phase), inv.positional[0], " has no phase '", phase, "'");
    auto columns = read_phase(file.open_group(phase));
    for (size_t i = 0; i < columns.size(); ++i) std::cout << (i ? "," : "") << columns[i].name;
    std::cout << "\n";
    const size_t rows = columns.empty() ? 0 : columns[0].values.size();
    for (size_t r = 0; r < rows; ++r) {
      for (size_t i = 0; i < columns.size(); ++i) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.9g",
                      r < columns[i].values.size() ? columns[i].values[r] : NAN);
        std::cout << (i ? "," : "") << buf;
      }
      std::cout << "\n";
    }
    return 0;
  }
  if (file.has_attr("start_time"))
    std::cout << "started " << file.attr_string("start_time") << "\n";
  for (const auto& phase : file.children()) {
    auto columns = read_phase(file.open_group(phase));
    const size_t rows = columns.empty() ? 0 : columns[0].values.size();
    std::printf("[%s] %zu rows\n  %-28s %12s %12s %12s %12s\n", phase.c_str(), rows, "metric",
                "first", "last", "min", "max");
    for (const auto& c : columns) {
      double lo = INFINITY, hi = -INFINITY, first = NAN, last = NAN;
      for (double v : c.values) {
        if (std::isnan(v)) continue;
        if (std::isnan(first)) first = v;
        last = v;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      std::printf("  %-28s %12.6g %12.6g %12.6g %12.6g\n", c.name.c_str(), first, last, lo, hi);
    }
  }
  return 0;
}

}  // namespace acerl::cli
