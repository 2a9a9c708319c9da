// Generation through tensor and pipeline parallelism (under mpiexec): with a fixed seed, the
// sampled and the greedy tokens, compacting or fixed-slot decode, are those of the
// single-process generator, which every rank also runs as the reference.
#include "support/catch.h"

#include <filesystem>

#include "model/qwen2_weights.h"
#include "rollout/generator.h"
#include "support/tiny_model.h"

using namespace acerl;

namespace {

std::string shared_checkpoint(const std::string& name) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::string dir = std::string(ACERL_BINARY_DIR) + "/test-tmp/" + name;
  if (rank == 0) {
    std::filesystem::create_directories(dir);
    test::write_tiny_checkpoint(dir, test::tiny_config(), 91);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

std::vector<rollout::GenerationRequest> requests() {
  std::vector<rollout::GenerationRequest> out;
  for (int i = 0; i < 4; ++i)
    out.push_back({"q" + std::to_string(i), test::random_ids(2 + 3 * i, 256, 40 + i), 2});
  return out;
}

void check_layouts(const std::vector<parallel::Layout>& layouts, const std::string& checkpoint) {
  for (rollout::SamplingParams sampling :
       {rollout::SamplingParams{0.0, 1.0, 0}, rollout::SamplingParams{0.8, 0.9, 0},
        rollout::SamplingParams{1.1, 1.0, 40}}) {
    rollout::GeneratorOptions options;
    options.sampling = sampling;
    options.max_new_tokens = 9;
    options.precision = model::Precision::fp32;
    options.seed = 12;
    options.max_batch = 4;
    auto single = parallel::ProcessGroups::single();
    auto reference_model = model::load_pretrained(checkpoint, *single);
    auto expected = rollout::Generator(*reference_model, *single, options).generate(requests());
    for (parallel::Layout layout : layouts)
    for (auto decode : {rollout::DecodeMode::compact, rollout::DecodeMode::slots}) {
      INFO("layout tp=" << layout.tp << " pp=" << layout.pp << " dp=" << layout.dp
                        << ", T=" << sampling.temperature << " top_p=" << sampling.top_p
                        << " top_k=" << sampling.top_k << ", decode "
                        << rollout::decode_mode_name(decode));
      parallel::ProcessGroups groups(MPI_COMM_WORLD, layout);
      auto m = model::load_pretrained(checkpoint, groups);
      rollout::GeneratorOptions layout_options = options;
      layout_options.decode = decode;
      auto got = rollout::Generator(*m, groups, layout_options).generate(requests());
      REQUIRE(got.size() == expected.size());
      for (size_t i = 0; i < got.size(); ++i) {
        CHECK(got[i].tokens == expected[i].tokens);
        for (size_t t = 0; t < got[i].tokens.size(); ++t)
          CHECK(got[i].logprobs[t] == Approx(expected[i].logprobs[t]).margin(1e-4));
      }
    }
  }
}

}  // namespace

TEST_CASE("generation at tp=2 and pp=2 gives the single-process tokens", "[parallel-np2]") {
  check_layouts({{2, 1, 1}, {1, 2, 1}, {1, 1, 2}}, shared_checkpoint("generate_np2"));
}

TEST_CASE("generation at (2,2,1) and (1,2,2) gives the single-process tokens", "[parallel-np4]") {
  check_layouts({{2, 2, 1}, {1, 2, 2}}, shared_checkpoint("generate_np4"));
}
