// Parallel HDF5 checkpoints; see checkpoint.h.
#include "io/checkpoint.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "io/h5_tensor.h"
#include "parallel/gather.h"
#include "runtime/error.h"

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
  ACERL_USAGE_CHECK(ds.shape() == s.full_shape, "tensor '", s.name, "' has shape ",
                    torch::IntArrayRef(ds.shape()), " in '", path, "', the model needs ",
                    torch::IntArrayRef(s.full_shape));
  torch::NoGradGuard no_grad;
  target.copy_(h5::read_slab(ds, slab_offset(s), target.sizes().vec(), h5::Transfer::independent));
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

}  // namespace

int64_t checkpoint_fault_delay_ms() {
  const char* value = std::getenv("ACERL_FAULT_CHECKPOINT_DELAY_MS");
  return value ? std::atoll(value) : 0;
}

CheckpointManager::CheckpointManager(std::string dir, int64_t keep,
                                     const parallel::ProcessGroups& groups)
    : dir_(std::move(dir)), keep_(keep), groups_(groups) {}

void write_checkpoint(const std::string& path, model::Qwen2ForCausalLMImpl& model,
                      train::AdamW* optimizer, const CheckpointInfo& info,
                      const parallel::ProcessGroups& groups) {
  const bool root = groups.rank() == 0;
  std::vector<Spec> specs = all_specs(model, groups);
  auto shards = model.param_shards();
  {
    h5::File file = h5::File::create(path, groups.world().mpi_comm());
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
    // The generator state of rank 0 (all ranks seed it identically).
    auto rng = file.create_group("rng");
    torch::Tensor state = at::detail::getDefaultCPUGenerator().get_state();
    h5::Dataset ds = h5::Dataset::create(rng, "torch_cpu", h5::DType::u8, {state.numel()});
    if (root) h5::write_slab(ds, state, {0}, h5::Transfer::independent);
  }
  groups.world().barrier();  // every rank has closed the file: it is complete
}

std::string CheckpointManager::save(model::Qwen2ForCausalLMImpl& model, train::AdamW* optimizer,
                                    const CheckpointInfo& info) {
  const bool root = groups_.rank() == 0;
  if (root) fs::create_directories(dir_);
  groups_.world().barrier();
  const std::string final_path = (fs::path(dir_) / step_file(info.step)).string();
  const std::string tmp_path = (fs::path(dir_) / ("." + step_file(info.step) + ".tmp")).string();
  write_checkpoint(tmp_path, model, optimizer, info, groups_);
  if (root) {
    fs::rename(tmp_path, final_path);
    const std::string pointer = (fs::path(dir_) / "latest").string();
    {
      std::ofstream out(pointer + ".tmp", std::ios::trunc);
      out << step_file(info.step) << "\n";
    }
    fs::rename(pointer + ".tmp", pointer);
    std::vector<std::string> complete;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("step_", 0) == 0 && entry.path().extension() == ".h5")
        complete.push_back(name);
    }
    std::sort(complete.begin(), complete.end());
    for (size_t i = 0; i + static_cast<size_t>(keep_) < complete.size(); ++i)
      fs::remove(fs::path(dir_) / complete[i]);
  }
  groups_.world().barrier();
  return final_path;
}

std::string CheckpointManager::latest() const {
  std::ifstream in(fs::path(dir_) / "latest");
  std::string name;
  if (!(in >> name)) return "";
  const fs::path path = fs::path(dir_) / name;
  return fs::exists(path) ? path.string() : "";
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return read_info(h5::File::open(path));
}

CheckpointInfo load_checkpoint(const std::string& path, model::Qwen2ForCausalLMImpl& model,
                               train::AdamW* optimizer, const parallel::ProcessGroups& groups) {
  h5::File file = h5::File::open(path, false, groups.world().mpi_comm());
  CheckpointInfo info = read_info(file);
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
  return info;
}

}  // namespace acerl::io
