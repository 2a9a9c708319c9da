// defines: Trace, the per-run HDF5 file of per-step metrics that users read with h5py, during
// the run or after it. One group per phase (sft, rl, eval), one extendible dataset per metric
// with a row per step (`step` says which), 2-D datasets for vector metrics (e.g. the entropy
// curve). The file is opened, appended and closed at every step: it is complete on disk between
// steps, so readers can open it at any time and a crash of the writer loses at most the step
// being written. Written by rank 0 only; HDF5 file locking is disabled (see MpiRuntime) so a
// reader holding the file open never blocks the writer.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace acerl::h5 {
class File;
}

namespace acerl::io {

class Trace {
 public:
  // Creates `path` (attributes: config, start time, acerl version), or reopens it to continue a
  // resumed run (`resume`), dropping rows after `resume_step` in every phase. Nothing is lost
  // without a message: before rows are dropped the whole file is copied to
  // <name>.superseded-<UTC time>.h5, and a fresh run renames an existing trace to that name.
  // Every write closes the file with the close checked (a full disk throws, naming the path).
  Trace(std::string path, const std::string& resolved_config, bool resume, int64_t resume_step = 0);

  using Scalars = std::vector<std::pair<std::string, double>>;
  using Vectors = std::vector<std::pair<std::string, std::vector<float>>>;
  // Appends one row to `phase`. A metric seen for the first time gets a dataset whose earlier
  // rows are NaN; a metric missing from this row gets NaN. Names may contain '/' (subgroups).
  void add(const std::string& phase, int64_t step, const Scalars& scalars,
           const Vectors& vectors = {});
  // Appends many rows at once (e.g. one per rollout): every column has one value per step.
  void add_rows(const std::string& phase, const std::vector<int64_t>& steps,
                const std::vector<std::pair<std::string, std::vector<double>>>& columns);
  // A string attribute of a phase group (e.g. the prompt ids that rollout rows index).
  void set_text(const std::string& phase, const std::string& name, const std::string& text);
  const std::string& path() const { return path_; }

 private:
  void add_row(h5::File& file, const std::string& phase, int64_t step, const Scalars& scalars,
               const Vectors& vectors);
  std::string path_;
};

}  // namespace acerl::io
