// `acerl convert`; see convert_command.h.
#include "cli/convert_command.h"

#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "job/setup.h"
#include "model/qwen2_weights.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace po = boost::program_options;

namespace acerl::cli {
namespace {

torch::ScalarType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16") return torch::kFloat16;
  throw UsageError(str("--dtype '", name, "': expected float32, bfloat16 or float16"));
}

// "5GB", "500MB", "100KB" or a plain byte count.
int64_t parse_size(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    throw UsageError(
        str("--max-shard-size '", text, "': expected a size such as 5GB, 500MB or 1000000"));
  }
  std::string unit = text.substr(used);
  double scale = unit.empty() || unit == "B" ? 1
                 : unit == "KB"              ? 1e3
                 : unit == "MB"              ? 1e6
                 : unit == "GB"              ? 1e9
                                             : -1;
  ACERL_USAGE_CHECK(scale > 0 && value > 0, "--max-shard-size '", text,
                    "': unit must be B, KB, MB or GB");
  return static_cast<int64_t>(value * scale);
}

// acerl HDF5 checkpoint <-> HF directory (config.json + safetensors). An HDF5 file gets the
// weights only (no optimizer state) at step 0.
int convert_checkpoint(const std::string& in, const std::string& out, torch::ScalarType dtype,
                       int64_t shard_bytes, const parallel::ProcessGroups& single) {
  if (job::is_acerl_checkpoint(in)) {
    ACERL_USAGE_CHECK(!job::is_acerl_checkpoint(out),
                      "--input and --output are both .h5: nothing to convert");
    io::CheckpointInfo info = io::read_checkpoint_info(in);
    auto config =
        model::Qwen2Config::from_json(json::parse(info.model_config, in + " (model_config)"), in);
    model::Qwen2ForCausalLM m(config, single);
    io::load_checkpoint(in, *m, nullptr, single);
    model::save_pretrained(*m, out, dtype, shard_bytes);
    log0(str("exported step ", info.step, " of ", in, " to ", out));
    return 0;
  }
  model::Qwen2ForCausalLM m = model::load_pretrained(in, single);
  json::Value state;
  state.set("imported_from", in);
  io::write_checkpoint(out, *m, nullptr, {0, state, "", json::dump(m->config().to_json()), {}},
                       single);
  log0(str("wrote ", out, " (weights of ", in, ", step 0)"));
  return 0;
}

}  // namespace

void add_convert_flags(po::options_description& flags) {
  flags.add_options()("init", po::value<std::string>(),
                      "config.json of a model to initialise randomly")(
      "input", po::value<std::string>(),
      "checkpoint to convert: a .safetensors file or an HF directory")(
      "output", po::value<std::string>(), "output directory (config.json + safetensors)")(
      "dtype", po::value<std::string>()->default_value("float32"), "float32, bfloat16 or float16")(
      "seed", po::value<int64_t>()->default_value(1234), "seed of --init")(
      "max-shard-size", po::value<std::string>()->default_value("5GB"),
      "largest safetensors shard");
}

int run_convert(MpiRuntime& runtime, Invocation& inv) {
  const auto& flags = inv.flags;
  ACERL_USAGE_CHECK(flags.count("output"), "acerl convert: --output DIR is required");
  ACERL_USAGE_CHECK(flags.count("init") + flags.count("input") == 1,
                    "acerl convert: give exactly one of --init CONFIG.json or --input CHECKPOINT");
  if (runtime.rank() != 0) return 0;  // a single-process tool; under mpirun only rank 0 writes
  const std::string out = flags["output"].as<std::string>();
  const torch::ScalarType dtype = parse_dtype(flags["dtype"].as<std::string>());
  const int64_t shard_bytes = parse_size(flags["max-shard-size"].as<std::string>());
  auto groups = parallel::ProcessGroups::single();
  if (flags.count("init")) {
    model::Qwen2Config config = model::Qwen2Config::from_file(flags["init"].as<std::string>());
    model::Qwen2ForCausalLM m(config, *groups);
    model::init_parameters(*m, static_cast<uint64_t>(flags["seed"].as<int64_t>()));
    model::save_pretrained(*m, out, dtype, shard_bytes);
    log0(str("wrote a randomly initialised model (", config.parameter_count(), " parameters, ",
             flags["dtype"].as<std::string>(), ") to ", out));
    return 0;
  }
  const std::string in = flags["input"].as<std::string>();
  const bool to_h5 = out.size() > 3 && out.compare(out.size() - 3, 3, ".h5") == 0;
  if (job::is_acerl_checkpoint(in) || to_h5)
    return convert_checkpoint(in, out, dtype, shard_bytes, *groups);
  io::SafetensorsReader reader(in);
  io::NamedTensors tensors;
  for (const auto& name : reader.names()) {
    torch::Tensor t = reader.get(name);
    tensors.emplace_back(name, t.is_floating_point() ? t.to(dtype) : t);
  }
  std::filesystem::create_directories(out);
  io::write_safetensors_checkpoint(out, tensors, shard_bytes);
  std::filesystem::path config = std::filesystem::is_directory(in)
                                     ? std::filesystem::path(in) / "config.json"
                                     : std::filesystem::path(in).parent_path() / "config.json";
  if (std::filesystem::exists(config)) {
    model::Qwen2Config c = model::Qwen2Config::from_file(config.string());
    c.torch_dtype = dtype == torch::kBFloat16  ? "bfloat16"
                    : dtype == torch::kFloat16 ? "float16"
                                               : "float32";
    std::ofstream(std::filesystem::path(out) / "config.json") << json::dump(c.to_json()) << "\n";
  }
  log0(str("wrote ", tensors.size(), " tensors to ", out));
  return 0;
}

}  // namespace acerl::cli
