// Rank grid and per-axis communicators; see process_groups.h.
#include "parallel/process_groups.h"

#include <vector>

#if ACERL_WITH_NCCL
#include "parallel/nccl_communicator.h"
#endif

#include "parallel/axis_communicator.h"
#include "runtime/error.h"
#include "runtime/mpi_check.h"

namespace acerl::parallel {
namespace {

bool fits_model(int tp, int pp, const ModelShape& s) {
  return s.n_head % tp == 0 && s.n_head_kv % tp == 0 && s.vocab % tp == 0 && s.ffn % tp == 0 &&
         s.n_layer % pp == 0;
}

std::string join(const std::vector<int>& values) {
  std::string out;
  for (int v : values) out += (out.empty() ? "" : ", ") + std::to_string(v);
  return out;
}

// Every (tp, pp, dp) with tp * pp * dp == world that the model admits, as text.
std::string fitting_layouts(int world, const ModelShape& shape) {
  std::string out;
  int shown = 0;
  for (int tp = 1; tp <= world; ++tp) {
    for (int pp = 1; tp * pp <= world; ++pp) {
      if (world % (tp * pp) != 0 || !fits_model(tp, pp, shape)) continue;
      if (shown++ == 12) return out + ", ...";
      out += str(out.empty() ? "" : ", ", "(", tp, ",", pp, ",", world / (tp * pp), ")");
    }
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Layout resolve_layout(int world_size, Layout requested) {
  if (requested.dp == 0 && requested.tp > 0 && requested.pp > 0)
    requested.dp = world_size / (requested.tp * requested.pp);
  return requested;
}

std::string layout_problem(int world_size, Layout requested, const ModelShape& shape) {
  const int tp = requested.tp, pp = requested.pp;
  if (tp < 1 || pp < 1 || requested.dp < 0)
    return "parallel.tp and parallel.pp must be >= 1, parallel.dp >= 0";
  Layout layout = resolve_layout(world_size, requested);
  if (layout.dp < 1 || layout.world() != world_size) {
    return str("parallel.tp * parallel.pp * parallel.dp = ", tp, " * ", pp, " * ",
               requested.dp == 0 ? std::string("auto") : std::to_string(requested.dp),
               " does not make the ", world_size,
               " ranks of this job; (tp,pp,dp) layouts that fit ", world_size,
               " ranks and this model: ", fitting_layouts(world_size, shape));
  }
  std::vector<std::pair<const char*, int64_t>> split_by_tp = {
      {"num_attention_heads", shape.n_head},
      {"num_key_value_heads", shape.n_head_kv},
      {"vocab_size", shape.vocab},
      {"intermediate_size", shape.ffn}};
  for (const auto& [name, value] : split_by_tp) {
    if (value % tp == 0) continue;
    std::vector<int> ok;
    for (int t = 1; t <= world_size; ++t)
      if (world_size % t == 0 && fits_model(t, 1, shape)) ok.push_back(t);
    return str("parallel.tp = ", tp, " does not divide ", name, " = ", value,
               "; tp values that fit this model and ", world_size, " ranks: ", join(ok));
  }
  if (shape.n_layer % pp != 0) {
    std::vector<int> ok;
    for (int p = 1; p <= world_size; ++p)
      if (world_size % p == 0 && shape.n_layer % p == 0) ok.push_back(p);
    return str("parallel.pp = ", pp, " does not divide num_hidden_layers = ", shape.n_layer,
               "; pp values that fit: ", join(ok));
  }
  return "";
}

std::unique_ptr<Communicator> make_axis(MPI_Comm comm, const char* name,
                                        const DeviceOptions& device) {
  if (!device.device.is_cuda()) return make_mpi_communicator(comm);
  std::unique_ptr<Communicator> nccl;
  int size = 1;
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size", comm);
#if ACERL_WITH_NCCL
  if (size > 1) {
    MPI_Comm dup = MPI_COMM_NULL;
    check_mpi(MPI_Comm_dup(comm, &dup), "MPI_Comm_dup", comm);
    // The pipeline axis sends activations forward and gradients back: one lane each.
    nccl = make_nccl_communicator(dup, {name, device.timeout_s, std::string(name) == "pp" ? 2 : 1});
  }
#else
  (void)name;
#endif
  return std::make_unique<AxisCommunicator>(make_mpi_communicator(comm), std::move(nccl),
                                            device.device.type());
}

ProcessGroups::ProcessGroups(MPI_Comm world, Layout layout, DeviceOptions device)
    : device_(device) {
  int size = 0;
  check_mpi(MPI_Comm_rank(world, &rank_), "MPI_Comm_rank", world);
  check_mpi(MPI_Comm_size(world, &size), "MPI_Comm_size", world);
  layout_ = resolve_layout(size, layout);
  ACERL_USAGE_CHECK(layout_.dp >= 1 && layout_.world() == size, "parallel layout tp=", layout.tp,
                    " pp=", layout.pp, " dp=", layout.dp, " does not make the ", size,
                    " ranks of this job");
  const int tp_index = rank_ % layout_.tp;
  const int pp_index = (rank_ / layout_.tp) % layout_.pp;
  const int dp_index = rank_ / (layout_.tp * layout_.pp);
  // Each communicator carries its axis name, which error and watchdog messages show.
  auto split = [&](int color, int key, const char* name) {
    MPI_Comm comm = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split(world, color, key, &comm), "MPI_Comm_split", world);
    check_mpi(MPI_Comm_set_name(comm, name), "MPI_Comm_set_name", comm);
    return make_axis(comm, name, device_);
  };
  MPI_Comm dup = MPI_COMM_NULL;
  check_mpi(MPI_Comm_dup(world, &dup), "MPI_Comm_dup", world);
  check_mpi(MPI_Comm_set_name(dup, "world"), "MPI_Comm_set_name", dup);
  world_ = make_axis(dup, "world", device_);
  tp_ = split(dp_index * layout_.pp + pp_index, tp_index, "tp");
  pp_ = split(dp_index * layout_.tp + tp_index, pp_index, "pp");
  dp_ = split(pp_index * layout_.tp + tp_index, dp_index, "dp");
  replica_ = split(dp_index, pp_index * layout_.tp + tp_index, "replica");
}

std::unique_ptr<ProcessGroups> ProcessGroups::single(torch::Device device) {
  std::unique_ptr<ProcessGroups> groups(new ProcessGroups());
  groups->device_.device = device;
  groups->world_ = make_local_communicator();
  groups->tp_ = make_local_communicator();
  groups->pp_ = make_local_communicator();
  groups->dp_ = make_local_communicator();
  groups->replica_ = make_local_communicator();
  return groups;
}

int ProcessGroups::rank_of(int dp_index, int pp_index, int tp_index) const {
  return dp_index * layout_.pp * layout_.tp + pp_index * layout_.tp + tp_index;
}

}  // namespace acerl::parallel
