// `acerl convert`: --init writes a model transformers loads; --input re-shards and re-types a
// checkpoint without changing any value beyond the requested rounding.
#include "support/catch.h"

#include <filesystem>
#include <fstream>

#include "io/json.h"
#include "io/safetensors.h"
#include "support/process.h"
#include "support/tiny_model.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

TEST_CASE("acerl convert --init, then --input to sharded bfloat16, loads in transformers", "[cli]") {
  std::string dir = scratch_dir("convert");
  std::ofstream(dir + "/config.json") << json::dump(tiny_config().to_json());
  auto init = run_process(quote(ACERL_EXE) + " convert --init " + quote(dir + "/config.json") + " --output " +
                          quote(dir + "/fp32") + " --seed 7");
  INFO(init.out << init.err);
  REQUIRE(init.exit_code == 0);
  auto shard = run_process(quote(ACERL_EXE) + " convert --input " + quote(dir + "/fp32") + " --output " +
                           quote(dir + "/bf16") + " --dtype bfloat16 --max-shard-size 100KB");
  INFO(shard.out << shard.err);
  REQUIRE(shard.exit_code == 0);
  CHECK(std::filesystem::exists(dir + "/bf16/model.safetensors.index.json"));
  io::SafetensorsReader fp32(dir + "/fp32"), bf16(dir + "/bf16");
  REQUIRE(fp32.names() == bf16.names());
  for (const auto& name : fp32.names()) {
    INFO(name);
    CHECK(bf16.entry(name).dtype == "BF16");
    CHECK(torch::equal(bf16.get(name), fp32.get(name).to(torch::kBFloat16)));
  }
  // transformers reads the sharded bf16 checkpoint with the same values.
  std::string script =
      "import torch, sys; from transformers import Qwen2ForCausalLM; "
      "from safetensors.torch import load_file; "
      "m = Qwen2ForCausalLM.from_pretrained(sys.argv[1], torch_dtype=torch.bfloat16); "
      "ref = load_file(sys.argv[2]); sd = m.state_dict(); "
      "print(all(torch.equal(sd[k], ref[k].to(torch.bfloat16)) for k in ref), m.config.torch_dtype)";
  auto py = run_python("-c " + quote(script) + " " + quote(dir + "/bf16") + " " + quote(dir + "/fp32/model.safetensors"));
  INFO(py.err);
  CHECK_THAT(py.out, Contains("True") && Contains("bfloat16"));
}

TEST_CASE("acerl convert reports missing and conflicting arguments", "[cli]") {
  auto r = run_process(quote(ACERL_EXE) + " convert --output /tmp/x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("exactly one of --init"));
  r = run_process(quote(ACERL_EXE) + " convert --init /nonexistent.json --output /tmp/x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("/nonexistent.json"));
  r = run_process(quote(ACERL_EXE) + " convert --init x.json --output /tmp/x --dtype int8");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("--dtype 'int8'"));
}

TEST_CASE("HF safetensors -> acerl HDF5 checkpoint -> HF safetensors is bit-exact", "[cli]") {
  std::string dir = scratch_dir("convert_h5");
  std::ofstream(dir + "/config.json") << json::dump(tiny_config().to_json());
  auto run = [&](const std::string& args) {
    auto r = run_process(quote(ACERL_EXE) + " convert " + args);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  };
  run("--init " + quote(dir + "/config.json") + " --output " + quote(dir + "/hf") + " --seed 3");
  run("--input " + quote(dir + "/hf") + " --output " + quote(dir + "/model.h5"));
  run("--input " + quote(dir + "/model.h5") + " --output " + quote(dir + "/hf2"));
  std::ifstream a(dir + "/hf/model.safetensors", std::ios::binary), b(dir + "/hf2/model.safetensors", std::ios::binary);
  std::string bytes_a((std::istreambuf_iterator<char>(a)), {}), bytes_b((std::istreambuf_iterator<char>(b)), {});
  CHECK(bytes_a.size() > 100000);
  CHECK(bytes_a == bytes_b);
  // The HDF5 file holds the tensors under their HF names, as h5py sees them.
  auto py = run_python("-c " + quote("import h5py, sys; f = h5py.File(sys.argv[1]); "
                                     "print(f['model/model.layers.3.mlp.down_proj.weight'].shape, len(f['model']))") +
                       " " + quote(dir + "/model.h5"));
  CHECK(py.out == "(64, 128) 51\n");
}
