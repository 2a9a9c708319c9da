// Per-step HDF5 trace; see trace.h.
#include "io/trace.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <functional>
#include <limits>

#include "io/h5.h"
#include "runtime/error.h"
#include "runtime/log.h"
#include "runtime/version.h"

namespace acerl::io {
namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

// Parent group of a metric name ("reasons/correct" -> group "reasons" of `phase`), created on
// demand.
h5::Group parent_of(const h5::Group& phase, const std::string& name, std::string* leaf) {
  auto slash = name.rfind('/');
  *leaf = slash == std::string::npos ? name : name.substr(slash + 1);
  if (slash != std::string::npos) phase.require_group(name.substr(0, slash));
  return phase.open_group(slash == std::string::npos ? std::string(".") : name.substr(0, slash));
}

// Grows a dataset with NaN rows until it has `rows` rows.
void pad_to(const h5::Dataset& ds, int64_t rows) {
  h5::Shape shape = ds.shape();
  const int64_t missing = rows - shape[0];
  if (missing <= 0) return;
  int64_t width = shape.size() > 1 ? shape[1] : 1;
  std::vector<double> nan(static_cast<size_t>(missing * width), kMissing);
  if (ds.dtype() == h5::DType::f32) {
    std::vector<float> nan32(nan.size(), std::numeric_limits<float>::quiet_NaN());
    ds.append(nan32.data(), h5::DType::f32, missing);
  } else {
    ds.append(nan.data(), h5::DType::f64, missing);
  }
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// Opens the trace, runs `body` on it and closes it with the close checked: every object `body`
// opened is gone by then, so a write that failed (a full disk) cannot pass unnoticed.
template <class Body>
void edit(const std::string& path, Body body) {
  h5::File file = h5::File::open(path, true);
  body(file);
  file.close();
}

// Whether a phase group has rows of steps after `last_step`.
bool has_rows_after(const h5::Group& phase, int64_t last_step) {
  if (!phase.exists("step")) return false;
  h5::Dataset step = h5::Dataset::open(phase, "step");
  const int64_t rows = step.shape()[0];
  std::vector<int64_t> steps(static_cast<size_t>(rows));
  if (rows) step.read_all(steps.data(), h5::DType::i64);
  for (int64_t s : steps)
    if (s > last_step) return true;
  return false;
}

// "run/trace.h5" -> "run/trace.superseded-20261202T101500Z.h5" (unique within the directory).
std::string backup_name(const std::string& path) {
  std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  std::filesystem::path p(path);
  std::filesystem::path stem = p.parent_path() / p.stem();
  std::string name = stem.string() + ".superseded-" + stamp + p.extension().string();
  for (int n = 2; std::filesystem::exists(name); ++n)
    name =
        stem.string() + ".superseded-" + stamp + "-" + std::to_string(n) + p.extension().string();
  return name;
}

// Keeps the rows whose step <= last_step in every dataset of a phase group (after a resume).
void truncate_phase(const h5::Group& phase, int64_t last_step) {
  if (!phase.exists("step")) return;
  h5::Dataset step = h5::Dataset::open(phase, "step");
  const int64_t rows = step.shape()[0];
  std::vector<int64_t> steps(static_cast<size_t>(rows));
  if (rows) step.read_all(steps.data(), h5::DType::i64);
  int64_t keep = 0;
  while (keep < rows && steps[static_cast<size_t>(keep)] <= last_step) ++keep;
  if (keep == rows) return;
  std::function<void(const h5::Group&)> shrink = [&](const h5::Group& g) {
    for (const auto& name : g.children()) {
      H5O_info_t info;
      H5Oget_info_by_name(g.id(), name.c_str(), &info, H5P_DEFAULT);
      if (info.type == H5O_TYPE_GROUP) {
        shrink(g.open_group(name));
        continue;
      }
      h5::Dataset ds = h5::Dataset::open(g, name);
      std::vector<hsize_t> dims;
      for (int64_t d : ds.shape()) dims.push_back(static_cast<hsize_t>(d));
      dims[0] = static_cast<hsize_t>(std::min<int64_t>(keep, static_cast<int64_t>(dims[0])));
      H5Dset_extent(ds.id(), dims.data());
    }
  };
  shrink(phase);
}

}  // namespace

Trace::Trace(std::string path, const std::string& resolved_config, bool resume, int64_t resume_step)
    : path_(std::move(path)) {
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  if (resume && std::filesystem::exists(path_)) {
    bool later_rows = false;
    {
      h5::File file = h5::File::open(path_);
      for (const auto& phase : file.children())
        later_rows = later_rows || has_rows_after(file.open_group(phase), resume_step);
    }
    if (later_rows) {  // rows of a run being rolled back: kept whole in a copy, never dropped
      const std::string backup = backup_name(path_);
      std::filesystem::copy_file(path_, backup);
      log0(str("trace: ", path_, " has rows after the resumed step ", resume_step,
               "; the whole trace is kept in ", backup, " before they are dropped here"));
    }
    edit(path_, [&](h5::File& file) {
      for (const auto& phase : file.children()) truncate_phase(file.open_group(phase), resume_step);
      file.set_attr("resumed_at", now_iso());
    });
    return;
  }
  if (std::filesystem::exists(path_)) {  // a fresh run in a used directory: keep the old trace
    const std::string backup = backup_name(path_);
    std::filesystem::rename(path_, backup);
    log0(str("trace: a new run starts; the earlier trace ", path_, " is now ", backup));
  }
  h5::File file = h5::File::create(path_);
  file.set_attr("config", resolved_config);
  file.set_attr("start_time", now_iso());
  file.set_attr("acerl_version", version_report());
  file.close();
}

void Trace::add(const std::string& phase, int64_t step, const Scalars& scalars,
                const Vectors& vectors) {
  edit(path_, [&](h5::File& file) { add_row(file, phase, step, scalars, vectors); });
}

void Trace::add_row(h5::File& file, const std::string& phase, int64_t step, const Scalars& scalars,
                    const Vectors& vectors) {
  h5::Group group = file.require_group(phase);
  h5::Dataset steps = group.exists("step")
                          ? h5::Dataset::open(group, "step")
                          : h5::Dataset::create_extendible(group, "step", h5::DType::i64, {});
  const int64_t row = steps.shape()[0];
  steps.append(&step, h5::DType::i64);
  for (const auto& [name, value] : scalars) {
    std::string leaf;
    h5::Group where = parent_of(group, name, &leaf);
    h5::Dataset ds = where.exists(leaf)
                         ? h5::Dataset::open(where, leaf)
                         : h5::Dataset::create_extendible(where, leaf, h5::DType::f64, {});
    pad_to(ds, row);
    ds.append(&value, h5::DType::f64);
  }
  for (const auto& [name, values] : vectors) {
    std::string leaf;
    h5::Group where = parent_of(group, name, &leaf);
    const auto width = static_cast<int64_t>(values.size());
    h5::Dataset ds = where.exists(leaf)
                         ? h5::Dataset::open(where, leaf)
                         : h5::Dataset::create_extendible(where, leaf, h5::DType::f32, {width}, 64);
    ACERL_CHECK(ds.shape()[1] == width, "trace metric ", phase, "/", name, " changed width from ",
                ds.shape()[1], " to ", width);
    pad_to(ds, row);
    ds.append(values.data(), h5::DType::f32);
  }
  // Metrics absent from this row still get one (NaN) so every dataset has row + 1 rows.
  std::function<void(const h5::Group&)> fill = [&](const h5::Group& g) {
    for (const auto& name : g.children()) {
      H5O_info_t info;
      H5Oget_info_by_name(g.id(), name.c_str(), &info, H5P_DEFAULT);
      if (info.type == H5O_TYPE_GROUP) {
        fill(g.open_group(name));
      } else if (name != "step" || &g != &group) {
        pad_to(h5::Dataset::open(g, name), row + 1);
      }
    }
  };
  fill(group);
}

}  // namespace acerl::io

namespace acerl::io {

void Trace::add_rows(const std::string& phase, const std::vector<int64_t>& steps,
                     const std::vector<std::pair<std::string, std::vector<double>>>& columns) {
  if (steps.empty()) return;
  edit(path_, [&](h5::File& file) {
    h5::Group group = file.require_group(phase);
    h5::Dataset step = group.exists("step") ? h5::Dataset::open(group, "step")
                                            : h5::Dataset::create_extendible(
                                                  group, "step", h5::DType::i64, {}, 1024);
    const int64_t rows = step.shape()[0];
    step.append(steps.data(), h5::DType::i64, static_cast<int64_t>(steps.size()));
    for (const auto& [name, values] : columns) {
      ACERL_CHECK(values.size() == steps.size(), "trace ", phase, "/", name, ": one value per row");
      h5::Dataset ds = group.exists(name)
                           ? h5::Dataset::open(group, name)
                           : h5::Dataset::create_extendible(group, name, h5::DType::f64, {}, 1024);
      pad_to(ds, rows);
      ds.append(values.data(), h5::DType::f64, static_cast<int64_t>(values.size()));
    }
  });
}

void Trace::set_text(const std::string& phase, const std::string& name, const std::string& text) {
  edit(path_, [&](h5::File& file) { file.require_group(phase).set_attr(name, text); });
}

}  // namespace acerl::io
