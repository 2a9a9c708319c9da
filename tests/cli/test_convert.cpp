// `acerl convert`: --init writes a model transformers loads; --input re-shards and re-types a
// checkpoint without changing any value beyond the requested rounding.
#include <catch2/catch.hpp>

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
