// Parallel HDF5 checkpoints; see checkpoint.h.
#include "io/checkpoint.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "io/durable_file.h"
#include "io/h5_tensor.h"
#include "parallel/gather.h"
#include "runtime/error.h"
#include "runtime/exit_codes.h"
#include "runtime/log.h"
#include "runtime/mpi_runtime.h"

namespace acerl::io {
namespace {

namespace fs = std::filesystem;

struct Spec {
  std::string name;
  std::vector<int64_t> shape;
};

// Every parameter of the full model, from all ranks (each knows only its stage's), sorted by
// name so that every rank creates the datasets in the same order.
std::vector<Spec> all_specs(model::Qwen2ForCausalLMImpl& model,
                            const parallel::ProcessGroups& groups) {
  std::string mine;
  for (const auto& s : model.param_shards()) {
    mine += s.name + "\t";
    for (int64_t d : s.full_shape) mine += std::to_string(d) + ",";
    mine += "\n";
  }
  const std::string all = parallel::all_gather_concat(mine, groups.world().mpi_comm());
  std::map<std::string, std::vector<int64_t>> unique;
  std::istringstream in(all);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    std::vector<int64_t> shape;
    std::istringstream dims(line.substr(tab + 1));
    std::string d;
    while (std::getline(dims, d, ','))
      if (!d.empty()) shape.push_back(std::stoll(d));
    unique[line.substr(0, tab)] = shape;
  }
  std::vector<Spec> specs;
  for (auto& [name, shape] : unique) specs.push_back({name, shape});
  return specs;
}

// One copy of each tensor is written: data-parallel replica 0, and for replicated (unsplit)
// tensors only TP rank 0.
bool writes(const model::ParamShard& s, const parallel::ProcessGroups& groups) {
  return groups.dp_rank() == 0 && (s.split_dim >= 0 || groups.tp_rank() == 0);
}

h5::Shape slab_offset(const model::ParamShard& s) {
  h5::Shape offset(s.full_shape.size(), 0);
  if (s.split_dim >= 0) offset[static_cast<size_t>(s.split_dim)] = s.offset;
  return offset;
}

void write_tensors(
    const h5::Location& group, const std::vector<Spec>& specs,
    const std::map<std::string, std::pair<const model::ParamShard*, torch::Tensor>>& mine,
    const parallel::ProcessGroups& groups) {
  for (const auto& spec : specs) {
    h5::Dataset ds = h5::Dataset::create(group, spec.name, h5::DType::f32, spec.shape);
    auto it = mine.find(spec.name);
    if (it != mine.end() && writes(*it->second.first, groups))
      h5::write_slab(ds, it->second.second.to(torch::kFloat32), slab_offset(*it->second.first),
                     h5::Transfer::independent);
  }
}

void read_into(const h5::Location& group, const model::ParamShard& s, torch::Tensor target,
               const std::string& path) {
  ACERL_USAGE_CHECK(group.exists(s.name), "checkpoint '", path, "' has no tensor '", s.name, "'");
  h5::Dataset ds = h5::Dataset::open(group, s.name);
  ACERL_USAGE_CHECK(ds.dtype() == h5::DType::f32 || ds.dtype() == h5::DType::bf16 ||
                        ds.dtype() == h5::DType::f16 || ds.dtype() == h5::DType::f64,
                    "tensor '", s.name, "' of checkpoint '", path, "' is ",
                    h5::dtype_name(ds.dtype()),
                    "; a checkpoint holds floating-point tensors (float32, bfloat16, float16, "
                    "float64)");
  ACERL_USAGE_CHECK(ds.shape() == s.full_shape, "tensor '", s.name, "' has shape ",
                    torch::IntArrayRef(ds.shape()), " in '", path, "', the model needs ",
                    torch::IntArrayRef(s.full_shape));
  torch::NoGradGuard no_grad;
  torch::Tensor values =
      h5::read_slab(ds, slab_offset(s), target.sizes().vec(), h5::Transfer::independent);
  ACERL_USAGE_CHECK(torch::isfinite(values).all().item<bool>(), "tensor '", s.name,
                    "' of checkpoint '", path, "' holds NaN or infinite values");
  target.copy_(values);
}

// Opens a checkpoint for reading (collectively with `comm`); a missing, truncated or foreign
// file is bad input (exit 2) with a message naming it.
h5::File open_checkpoint(const std::string& path, MPI_Comm comm) {
  ACERL_USAGE_CHECK(fs::is_regular_file(path), "checkpoint '", path, "' does not exist");
  ACERL_USAGE_CHECK(H5Fis_hdf5(path.c_str()) > 0, "checkpoint '", path,
                    "' is not a readable HDF5 file (truncated, or not a checkpoint)");
  try {
    return h5::File::open(path, false, comm);
  } catch (const h5::H5Error& e) {
    throw UsageError(str("checkpoint '", path,
                         "' is not a readable HDF5 file (truncated, or not a checkpoint): ",
                         clip_text(e.what(), 200)));
  }
}

std::string step_file(int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "step_%08lld.h5", static_cast<long long>(step));
  return name;
}

CheckpointInfo read_info(const h5::File& file) {
  CheckpointInfo info;
  ACERL_USAGE_CHECK(file.has_attr("format_version"), file.path(),
                    " is not an acerl checkpoint (no format_version)");
  int64_t version = file.attr_int("format_version");
  ACERL_USAGE_CHECK(version == kCheckpointFormat, file.path(), ": checkpoint format ", version,
                    " is not the one this acerl reads (", kCheckpointFormat, ")");
  info.step = file.attr_int("step");
  info.state = json::parse(file.attr_string("state"), file.path() + " (state)");
  info.config = file.attr_string("config");
  info.model_config = file.attr_string("model_config");
  return info;
}

// /replica_records/<d>/<k>: record k of data-parallel replica d, bytes, written by the replica's
// first rank (every rank takes part in creating them, so every rank learns every size first).
void write_replica_records(const h5::File& file, const std::vector<std::vector<uint8_t>>& records,
                           const parallel::ProcessGroups& groups) {
  const bool writer = groups.replica().rank() == 0;
  std::vector<double> mine;
  if (writer) {
    mine = {double(groups.dp().rank()), double(records.size())};
    for (const auto& r : records) mine.push_back(double(r.size()));
  }
  const std::vector<double> all = parallel::all_gather_concat(mine, groups.world().mpi_comm());
  std::map<int64_t, std::vector<int64_t>> sizes;  // replica -> record sizes
  for (size_t at = 0; at < all.size();) {
    const auto replica = static_cast<int64_t>(all[at]);
    const auto count = static_cast<size_t>(all[at + 1]);
    for (size_t k = 0; k < count; ++k)
      sizes[replica].push_back(static_cast<int64_t>(all[at + 2 + k]));
    at += 2 + count;
  }
  size_t total = 0;
  for (const auto& [replica, list] : sizes) total += list.size();
  if (total == 0) return;
  h5::Group root = file.create_group("replica_records");
  root.set_attr("replicas", int64_t(groups.layout().dp));
  for (const auto& [replica, list] : sizes) {
    h5::Group group = root.create_group(std::to_string(replica));
    for (size_t k = 0; k < list.size(); ++k) {
      ACERL_CHECK(list[k] > 0, "replica record ", k, " of replica ", replica, " is empty");
      h5::Dataset ds = h5::Dataset::create(group, std::to_string(k), h5::DType::u8, {list[k]});
      if (writer && replica == groups.dp().rank())
        ds.write(records[k].data(), h5::DType::u8, {0}, {list[k]}, h5::Transfer::independent);
    }
  }
}

}  // namespace

int64_t checkpoint_fault_delay_ms() {
  const char* value = std::getenv("ACERL_FAULT_CHECKPOINT_DELAY_MS");
  return value ? std::atoll(value) : 0;
}

CheckpointManager::CheckpointManager(std::string dir, int64_t keep,
                                     const parallel::ProcessGroups& groups)
    : dir_(std::move(dir)), keep_(keep), groups_(groups) {}

void write_checkpoint(const std::string& path, model::Qwen2ForCausalLMImpl& model,
                      optim::AdamW* optimizer, const CheckpointInfo& info,
                      const parallel::ProcessGroups& groups) {
  const bool root = groups.rank() == 0;
  std::vector<Spec> specs = all_specs(model, groups);
  auto shards = model.param_shards();
  h5::File file = h5::File::create(path, groups.world().mpi_comm());
  {  // every group and dataset is closed before the checked close of the file
    file.set_attr("format_version", kCheckpointFormat);
    file.set_attr("step", info.step);
    file.set_attr("state", json::dump(info.state));
    file.set_attr("config", info.config);
    file.set_attr("model_config", info.model_config);
    const auto& layout = groups.layout();
    file.set_attr("written_by_layout", std::vector<int64_t>{layout.tp, layout.pp, layout.dp});
    std::map<std::string, std::pair<const model::ParamShard*, torch::Tensor>> weights, m, v;
    for (size_t i = 0; i < shards.size(); ++i) {
      weights[shards[i].name] = {&shards[i], shards[i].tensor.detach()};
      if (optimizer) {
        m[shards[i].name] = {&shards[i], optimizer->exp_avg(i)};
        v[shards[i].name] = {&shards[i], optimizer->exp_avg_sq(i)};
      }
    }
    write_tensors(file.create_group("model"), specs, weights, groups);
    if (int64_t delay = checkpoint_fault_delay_ms()) {
      file.flush();
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    if (optimizer) {
      auto group = file.create_group("optimizer");
      group.set_attr("steps", optimizer->steps());
      write_tensors(group.create_group("exp_avg"), specs, m, groups);
      write_tensors(group.create_group("exp_avg_sq"), specs, v, groups);
    }
    write_replica_records(file, info.replica_records, groups);
    // The generator state of rank 0 (all ranks seed it identically).
    auto rng = file.create_group("rng");
    torch::Tensor state = at::detail::getDefaultCPUGenerator().get_state();
    h5::Dataset ds = h5::Dataset::create(rng, "torch_cpu", h5::DType::u8, {state.numel()});
    if (root) h5::write_slab(ds, state, {0}, h5::Transfer::independent);
  }
  file.close();              // collective; a full disk shows here at the latest
  groups.world().barrier();  // every rank has closed the file: it is complete
}

namespace {

// The first parameter or AdamW moment of this rank holding a NaN or an infinity, or "".
std::string first_non_finite(model::Qwen2ForCausalLMImpl& model, optim::AdamW* optimizer) {
  torch::NoGradGuard no_grad;
  auto shards = model.param_shards();
  for (size_t i = 0; i < shards.size(); ++i) {
    if (!torch::isfinite(shards[i].tensor).all().item<bool>()) return shards[i].name;
    if (optimizer && !torch::isfinite(optimizer->exp_avg(i)).all().item<bool>())
      return "optimizer/exp_avg/" + shards[i].name;
    if (optimizer && !torch::isfinite(optimizer->exp_avg_sq(i)).all().item<bool>())
      return "optimizer/exp_avg_sq/" + shards[i].name;
  }
  return "";
}

// Step of a complete checkpoint file name ("step_00000042.h5" -> 42), or -1.
int64_t step_of(const std::string& name) {
  if (name.size() < step_file(0).size() || name.rfind("step_", 0) != 0 ||
      name.compare(name.size() - 3, 3, ".h5") != 0)
    return -1;
  const std::string digits = name.substr(5, name.size() - 8);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(digits);
}

// Complete checkpoints of `dir` by step.
std::map<int64_t, std::string> step_files(const std::string& dir) {
  std::map<int64_t, std::string> files;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const int64_t step = step_of(name);
    if (step >= 0) files[step] = name;
  }
  return files;
}

std::string utc_stamp() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", std::gmtime(&t));
  return buf;
}

std::string read_pointer(const fs::path& pointer) {
  std::ifstream in(pointer);
  std::string name;
  in >> name;
  return name;
}

}  // namespace

std::string CheckpointManager::save(model::Qwen2ForCausalLMImpl& model, optim::AdamW* optimizer,
                                    const CheckpointInfo& info) {
  const bool root = groups_.rank() == 0;
  // No checkpoint with non-finite numbers: it would rotate the good ones out.
  const std::string bad = first_non_finite(model, optimizer);
  const std::string all_bad =
      parallel::all_gather_concat(bad.empty() ? bad : bad + "\n", groups_.world().mpi_comm());
  if (!all_bad.empty()) {
    const std::string last = latest();
    fail_collectively(groups_.rank(),
                      str("refusing to write the checkpoint of step ", info.step, ": '",
                          all_bad.substr(0, all_bad.find('\n')),
                          "' is not finite; last good checkpoint: ", last.empty() ? "none" : last),
                      kExitFailure);
  }
  if (root) fs::create_directories(dir_);
  groups_.world().barrier();
  const std::string final_path = (fs::path(dir_) / step_file(info.step)).string();
  const std::string tmp_path = (fs::path(dir_) / ("." + step_file(info.step) + ".tmp")).string();
  write_checkpoint(tmp_path, model, optimizer, info, groups_);
  if (root) {
    fsync_file(tmp_path);
    rename_durably(tmp_path, final_path);
    replace_file_durably((fs::path(dir_) / "latest").string(), step_file(info.step) + "\n");
    // Rotation: the file just written (which `latest` names) always stays, plus the keep - 1
    // newest older ones; files of later steps (there are none after prepare()) are not touched.
    std::map<int64_t, std::string> files = step_files(dir_);
    int64_t kept = 1;
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
      if (it->first >= info.step) continue;
      if (kept < keep_) {
        ++kept;
        continue;
      }
      fs::remove(fs::path(dir_) / it->second);
    }
  }
  groups_.world().barrier();
  return final_path;
}

void CheckpointManager::prepare(int64_t start_step) {
  if (groups_.rank() == 0 && fs::is_directory(dir_)) {
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      const bool stale = (name.rfind(".step_", 0) == 0 && entry.path().extension() == ".tmp") ||
                         name == "latest.tmp";
      if (!stale) continue;
      log0(str("checkpoint: removing ", entry.path().string(), " (left by a run that died)"));
      fs::remove(entry.path());
    }
    std::map<int64_t, std::string> files = step_files(dir_);
    const fs::path aside = fs::path(dir_) / "superseded" / utc_stamp();
    for (const auto& [step, name] : files) {
      if (step <= start_step) continue;
      fs::create_directories(aside);
      log0(str("checkpoint: this run starts at step ", start_step, "; moving ", name,
               " (a later step of an earlier run) to ", (aside / name).string()));
      rename_durably((fs::path(dir_) / name).string(), (aside / name).string());
    }
    const fs::path pointer = fs::path(dir_) / "latest";
    const std::string named = fs::exists(pointer) ? read_pointer(pointer) : "";
    const int64_t named_step = step_of(named);
    if (files.count(start_step) && named != step_file(start_step)) {
      replace_file_durably(pointer.string(), step_file(start_step) + "\n");
    } else if (!files.count(start_step) && fs::exists(pointer) &&
               (named_step < 0 || named_step > start_step)) {
      fs::remove(pointer);
      fsync_dir(dir_);
    }
  }
  groups_.world().barrier();
}

std::string CheckpointManager::latest() const {
  const fs::path pointer = fs::path(dir_) / "latest";
  if (!fs::exists(pointer)) {
    std::map<int64_t, std::string> files = step_files(dir_);
    ACERL_USAGE_CHECK(files.empty(), "checkpoint directory ", dir_, " holds ", files.size(),
                      " checkpoints (newest ", files.rbegin()->second,
                      ") but no 'latest' pointer: name the one to resume from with "
                      "checkpoint.resume=PATH");
    return "";
  }
  const std::string name = read_pointer(pointer);
  ACERL_USAGE_CHECK(!name.empty(), "checkpoint pointer ", pointer.string(),
                    " is empty: name the checkpoint to resume from with checkpoint.resume=PATH, "
                    "or remove the pointer");
  const fs::path path = fs::path(dir_) / name;
  ACERL_USAGE_CHECK(fs::exists(path), "checkpoint pointer ", pointer.string(), " names '",
                    clip_text(name),
                    "', which does not exist: name the checkpoint to resume "
                    "from with checkpoint.resume=PATH, or remove the pointer");
  return path.string();
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return read_info(open_checkpoint(path, MPI_COMM_NULL));
}

ReplicaRecords read_replica_records(const std::string& path, int64_t replica) {
  h5::File file = open_checkpoint(path, MPI_COMM_NULL);
  ReplicaRecords out;
  if (!file.exists("replica_records")) return out;
  h5::Group root = file.open_group("replica_records");
  out.replicas = root.attr_int("replicas");
  const std::string mine = std::to_string(replica);
  if (!root.exists(mine)) return out;
  h5::Group group = root.open_group(mine);
  for (size_t k = 0; group.exists(std::to_string(k)); ++k) {
    h5::Dataset ds = h5::Dataset::open(group, std::to_string(k));
    std::vector<uint8_t> bytes(static_cast<size_t>(ds.shape().at(0)));
    ds.read_all(bytes.data(), h5::DType::u8);
    out.records.push_back(std::move(bytes));
  }
  return out;
}

CheckpointInfo load_checkpoint(const std::string& path, model::Qwen2ForCausalLMImpl& model,
                               optim::AdamW* optimizer, const parallel::ProcessGroups& groups) {
  CheckpointInfo info;
  std::string problem;  // the first bad tensor this rank found; the file is closed regardless
  {
    h5::File file = open_checkpoint(path, groups.world().mpi_comm());
    try {
      info = read_info(file);
      auto shards = model.param_shards();
      h5::Group weights = file.open_group("model");
      for (const auto& s : shards) read_into(weights, s, s.tensor, path);
      if (optimizer && file.exists("optimizer")) {
        h5::Group opt = file.open_group("optimizer");
        h5::Group m = opt.open_group("exp_avg"), v = opt.open_group("exp_avg_sq");
        for (size_t i = 0; i < shards.size(); ++i) {
          read_into(m, shards[i], optimizer->exp_avg(i), path);
          read_into(v, shards[i], optimizer->exp_avg_sq(i), path);
        }
        optimizer->set_steps(opt.attr_int("steps"));
      }
      if (file.exists("rng/torch_cpu")) {
        h5::Dataset rng = h5::Dataset::open(file, "rng/torch_cpu");
        at::Generator generator = at::detail::getDefaultCPUGenerator();
        generator.set_state(h5::read_slab(rng, {0}, rng.shape(), h5::Transfer::independent));
      }
    } catch (const std::exception& e) {
      problem = e.what();
    }
  }
  // Every rank read (and closed) the file; a problem anywhere is an error everywhere.
  const std::string all = parallel::all_gather_concat(problem.empty() ? problem : problem + "\n",
                                                      groups.world().mpi_comm());
  if (!all.empty()) throw UsageError(all.substr(0, all.find('\n')));
  return info;
}

}  // namespace acerl::io
