// The GPU path on a real device (CTest label `gpu`; reported as skipped where no CUDA device is
// visible): the kernels against LibTorch on the device, the sampler's tokens against the CPU
// sampler's for the same uniforms, model logits against transformers on the same GPU (fp32 and
// bf16), one training step's gradients against the CPU fp32 step, and greedy generation against
// transformers' generate() on the GPU and acerl's on the CPU.
#include "support/catch.h"

#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

#include "io/json.h"
#include "io/safetensors.h"
#include "model/attention.h"
#include "model/qwen2_weights.h"
#include "model/rmsnorm.h"
#include "parallel/vocab_parallel.h"
#include "rollout/generator.h"
#include "rollout/sampler.h"
#include "support/process.h"
#include "support/tiny_model.h"
#include "train/train_step.h"

using namespace acerl;
using namespace acerl::test;

namespace {

const torch::Device kGpu(torch::kCUDA, 0);

double relative_error(const torch::Tensor& ours, const torch::Tensor& reference) {
  torch::Tensor a = ours.to(torch::kCPU, torch::kFloat64), b = reference.to(torch::kFloat64);
  return ((a - b).norm() / b.norm().clamp_min(1e-12)).item<double>();
}

// transformers' logits of each sequence on the GPU in `dtype` ("fp32" | "bf16").
std::vector<torch::Tensor> hf_logits(const std::string& dir,
                                     const std::vector<std::vector<int64_t>>& sequences,
                                     const std::string& dtype) {
  std::ofstream(dir + "/ids.json") << ids_json(sequences);
  setenv("ACERL_HF_DEVICE", "cuda", 1);  // the reference runs on the same GPU
  setenv("ACERL_HF_DTYPE", dtype.c_str(), 1);
  auto py = run_python(quote(source_path("tests/model/hf_reference.py")) + " logits " + quote(dir) +
                       " " + quote(dir + "/ids.json") + " " + quote(dir + "/hf_" + dtype + ".safetensors"));
  unsetenv("ACERL_HF_DTYPE");
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  io::SafetensorsReader reader(dir + "/hf_" + dtype + ".safetensors");
  std::vector<torch::Tensor> out;
  for (size_t i = 0; i < sequences.size(); ++i)
    out.push_back(reader.get("logits_" + std::to_string(i)).clone());
  return out;
}

torch::Tensor as_row(const std::vector<int64_t>& ids) {
  return torch::tensor(ids, torch::kInt64).unsqueeze(0);
}

}  // namespace

TEST_CASE("GPU kernels agree with LibTorch on the device and the sampler with the CPU's",
          "[.gpu]") {
  torch::manual_seed(21);
  SECTION("fused RMSNorm forward and backward") {
    model::RMSNorm cpu(896, 1e-6), gpu(896, 1e-6);
    {
      torch::NoGradGuard no_grad;
      cpu->weight.copy_(torch::randn({896}));
      gpu->weight.copy_(cpu->weight);
    }
    gpu->to(kGpu);
    torch::Tensor x = torch::randn({4, 33, 896}) * 2, dy = torch::randn({4, 33, 896});
    torch::Tensor xc = x.clone().requires_grad_(true), xg = x.to(kGpu).requires_grad_(true);
    torch::Tensor yc = cpu(xc), yg = gpu(xg);
    torch::autograd::backward({yc}, {dy});
    torch::autograd::backward({yg}, {dy.to(kGpu)});
    CHECK(relative_error(yg, yc) < 1e-5);
    CHECK(relative_error(xg.grad(), xc.grad()) < 1e-4);
    CHECK(relative_error(gpu->weight.grad(), cpu->weight.grad()) < 1e-4);
  }
  SECTION("entropy curve from the softmax-statistics kernel, masked logits included") {
    auto local = parallel::make_local_communicator();
    torch::Tensor logits = torch::randn({16, 151936}) * 4;
    logits[3].narrow(0, 0, 50000).fill_(-INFINITY);
    std::vector<double> temps = {0.1, 0.3, 0.6, 0.85, 1.0, 1.2, 1.5};
    torch::Tensor ref = parallel::vocab_parallel_entropies(logits, *local, temps);
    torch::Tensor got = parallel::vocab_parallel_entropies(logits.to(kGpu), *local, temps);
    CHECK(torch::allclose(got.cpu(), ref, 1e-4, 1e-4));
  }
  SECTION("sampled tokens equal the CPU sampler's for the same uniforms") {
    auto local = parallel::make_local_communicator();
    int64_t equal = 0, total = 0;
    for (double t : {0.05, 0.6, 1.0, 1.3}) {
      for (double top_p : {1.0, 0.95}) {
        torch::Tensor logits = torch::randn({64, 151936}) * 3;
        std::vector<double> u;
        for (int64_t b = 0; b < 64; ++b)
          u.push_back(rollout::stream_uniform(rollout::sequence_stream(3, "g", b), 7));
        torch::Tensor uniforms = torch::tensor(u, torch::kFloat64);
        rollout::SamplingParams params{t, top_p, 0};
        auto cpu = rollout::sample_vocab_parallel(logits, 0, *local, params, uniforms);
        auto gpu = rollout::sample_vocab_parallel(logits.to(kGpu), 0, *local, params, uniforms);
        equal += torch::eq(gpu.tokens.cpu(), cpu.tokens).sum().item<int64_t>();
        total += 64;
        CHECK(torch::allclose(gpu.logprob.cpu(), cpu.logprob, 1e-4, 1e-4));
        CHECK(torch::allclose(gpu.entropy.cpu(), cpu.entropy, 1e-4, 1e-4));
      }
    }
    CHECK(equal == total);
  }
}

TEST_CASE("model logits on the GPU equal transformers' on the same GPU, fp32 and bf16", "[.gpu]") {
  std::string dir = scratch_dir("gpu_logits");
  auto config = tiny_config();
  write_tiny_checkpoint(dir, config, 31);
  std::vector<std::vector<int64_t>> seqs = {random_ids(9, 256, 1), random_ids(40, 256, 2)};
  auto groups = parallel::ProcessGroups::single(kGpu);
  auto m = model::load_pretrained(dir, *groups);
  m->to(kGpu);
  REQUIRE(m->device() == kGpu);
  torch::NoGradGuard no_grad;
  for (const std::string dtype : {"fp32", "bf16"}) {
    auto ref = hf_logits(dir, seqs, dtype);
    for (size_t i = 0; i < seqs.size(); ++i) {
      torch::Tensor ids = as_row(seqs[i]).to(kGpu);
      torch::Tensor positions = torch::arange(ids.size(1), ids.options()).unsqueeze(0);
      model::AutocastScope autocast(dtype == "bf16" ? model::Precision::bf16 : model::Precision::fp32,
                                    torch::kCUDA);
      torch::Tensor logits = m->forward(ids, model::training_inputs(positions, {}, config))[0];
      INFO(dtype << " sequence " << i << " relative error " << relative_error(logits, ref[i]));
      CHECK(relative_error(logits, ref[i]) < (dtype == "fp32" ? 1e-4 : 3e-2));
    }
  }
}

TEST_CASE("a training step on the GPU gives the CPU fp32 step's loss and gradients", "[.gpu]") {
  std::string dir = scratch_dir("gpu_grads");
  auto config = tiny_config();
  write_tiny_checkpoint(dir, config, 32);
  auto cpu_groups = parallel::ProcessGroups::single();
  auto gpu_groups = parallel::ProcessGroups::single(kGpu);
  auto cpu = model::load_pretrained(dir, *cpu_groups);
  auto gpu = model::load_pretrained(dir, *gpu_groups);
  gpu->to(kGpu);
  train::PackedRows rows;
  const int64_t n = 4, T = 32;
  rows.ids = torch::randint(0, 256, {n, T});
  rows.positions = torch::arange(T).repeat({n, 1});
  rows.targets = torch::randint(0, 256, {n, T});
  rows.weights = torch::ones({n, T});
  auto a = train::forward_backward(*cpu, *cpu_groups, rows, 2, model::Precision::fp32, nullptr);
  auto b = train::forward_backward(*gpu, *gpu_groups, rows, 2, model::Precision::fp32, nullptr);
  CHECK(b.loss == Approx(a.loss).epsilon(1e-5));
  auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  for (const auto& item : pc) {
    INFO(item.key());
    CHECK(relative_error(pg[item.key()].grad(), item.value().grad()) < 1e-4);
  }
}

TEST_CASE("greedy generation on the GPU equals transformers' on the GPU and acerl's on the CPU",
          "[.gpu]") {
  std::string dir = scratch_dir("gpu_generate");
  write_tiny_checkpoint(dir, tiny_config(), 33);
  std::vector<rollout::GenerationRequest> reqs;
  std::vector<std::vector<int64_t>> prompts;
  for (int i = 0; i < 4; ++i) {
    reqs.push_back({"p" + std::to_string(i), random_ids(3 + 5 * i, 256, 50 + i), 1});
    prompts.push_back(reqs.back().prompt);
  }
  std::ofstream(dir + "/ids.json") << ids_json(prompts);
  setenv("ACERL_HF_DEVICE", "cuda", 1);
  auto py = run_python(quote(source_path("tests/model/hf_reference.py")) + " generate " + quote(dir) +
                       " " + quote(dir + "/ids.json") + " 12 " + quote(dir + "/hf.json"));
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  std::ifstream in(dir + "/hf.json");
  json::Value expected = json::parse(std::string(std::istreambuf_iterator<char>(in), {}), "hf.json");
  rollout::GeneratorOptions options;
  options.sampling.temperature = 0;
  options.max_new_tokens = 12;
  options.precision = model::Precision::fp32;
  options.max_batch = 3;
  auto cpu_groups = parallel::ProcessGroups::single();
  auto gpu_groups = parallel::ProcessGroups::single(kGpu);
  auto cpu = model::load_pretrained(dir, *cpu_groups);
  auto gpu = model::load_pretrained(dir, *gpu_groups);
  gpu->to(kGpu);
  auto on_cpu = rollout::Generator(*cpu, *cpu_groups, options).generate(reqs);
  auto on_gpu = rollout::Generator(*gpu, *gpu_groups, options).generate(reqs);
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::vector<int64_t> hf;
    for (const auto& v : expected.as_array()[i].as_array()) hf.push_back(v.as_int());
    INFO("prompt " << i);
    CHECK(on_gpu[i].tokens == hf);
    CHECK(on_gpu[i].tokens == on_cpu[i].tokens);
  }
}

TEST_CASE("decode steps replayed as CUDA graphs give the eager slot and compact decode's tokens",
          "[.gpu]") {
  std::string dir = scratch_dir("gpu_graphs");
  write_tiny_checkpoint(dir, tiny_config(), 35);
  auto groups = parallel::ProcessGroups::single(kGpu);
  auto m = model::load_pretrained(dir, *groups);
  m->to(kGpu);
  std::vector<rollout::GenerationRequest> reqs;
  for (int i = 0; i < 5; ++i)
    reqs.push_back({"g" + std::to_string(i), random_ids(2 + 4 * i, 256, 60 + i), 3});
  for (auto precision : {model::Precision::fp32, model::Precision::bf16}) {
    for (double temperature : {0.0, 0.9}) {
      rollout::GeneratorOptions options;
      options.sampling = {temperature, 1.0, 0};
      options.max_new_tokens = 10;
      options.max_batch = 8;  // 15 sequences: refills, buckets 1 to 8
      options.precision = precision;
      options.seed = 4;
      options.entropy_temperatures = {0.6, 1.2};
      options.decode = rollout::DecodeMode::compact;
      auto compact = rollout::Generator(*m, *groups, options).generate(reqs);
      options.stop_tokens = {compact[0].tokens[2], compact[7].tokens[4]};
      auto expected = rollout::Generator(*m, *groups, options).generate(reqs);
      options.decode = rollout::DecodeMode::slots;
      auto slots = rollout::Generator(*m, *groups, options).generate(reqs);
      options.decode = rollout::DecodeMode::graphs;
      rollout::Generator graphed(*m, *groups, options);
      auto got = graphed.generate(reqs);
      INFO(model::precision_name(precision) << ", T = " << temperature);
      CHECK(graphed.stats().graph_captures > 0);
      CHECK(graphed.stats().graph_replays > graphed.stats().graph_captures);
      for (size_t i = 0; i < got.size(); ++i) {
        INFO("sequence " << i);
        CHECK(got[i].tokens == slots[i].tokens);  // the replay is the eager step
        CHECK(got[i].logprobs == slots[i].logprobs);
        CHECK(got[i].entropy_curve == slots[i].entropy_curve);
        if (precision == model::Precision::fp32) CHECK(got[i].tokens == expected[i].tokens);
      }
    }
  }
}
