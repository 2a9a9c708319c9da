// Checkpoints are layout independent (under mpiexec -n 2): a checkpoint written at tp=2 holds
// full-shape tensors that load at pp=2 and on a single process with every element equal to
// the writer's shards; AdamW moments and the job state come back too.
#include "support/catch.h"

#include <filesystem>
#include <map>

#include "io/checkpoint.h"
#include "model/qwen2.h"
#include "support/tiny_model.h"

using namespace acerl;

TEST_CASE("a checkpoint written at tp=2 loads at pp=2 and at tp=1 with identical tensors", "[parallel-np2]") {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const std::string dir = std::string(ACERL_BINARY_DIR) + "/test-tmp/checkpoint_layouts";
  if (rank == 0) std::filesystem::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  auto config = test::tiny_config();

  parallel::ProcessGroups tp2(MPI_COMM_WORLD, {2, 1, 1});
  model::Qwen2ForCausalLM writer(config, tp2);
  model::init_parameters(*writer, 21);
  std::vector<torch::Tensor> params;
  for (const auto& s : writer->param_shards()) params.push_back(s.tensor);
  optim::AdamW adamw(params, std::vector<bool>(params.size(), true), {});
  for (size_t i = 0; i < params.size(); ++i) {  // distinct moments per element
    adamw.exp_avg(i).copy_(params[i].detach() * 3);
    adamw.exp_avg_sq(i).copy_(params[i].detach().abs());
  }
  adamw.set_steps(7);
  json::Value state;
  state.set("epoch", int64_t(2));
  io::CheckpointManager manager(dir, 2, tp2);
  const std::string path =
      manager.save(*writer, &adamw, {5, state, "[run]\n", json::dump(config.to_json()), {}});
  CHECK(manager.latest() == path);

  // The full tensors the writer's shards make up (gathered over TP on both ranks alike).
  std::map<std::string, torch::Tensor> full;
  for (const auto& w : writer->param_shards())
    full[w.name] = w.split_dim >= 0 ? tp2.tp().all_gather(w.tensor.detach().contiguous(), w.split_dim)
                                    : w.tensor.detach();

  {
    parallel::ProcessGroups pp2(MPI_COMM_WORLD, {1, 2, 1});
    model::Qwen2ForCausalLM reader(config, pp2);  // half of the layers per rank, unsplit
    auto info = io::load_checkpoint(path, *reader, nullptr, pp2);
    CHECK(info.step == 5);
    CHECK(info.state.at("epoch").as_int() == 2);
    for (const auto& s : reader->param_shards()) {
      INFO("pp=2: " << s.name);
      CHECK(torch::equal(s.tensor.detach(), full.at(s.name)));
    }
  }
  auto single = parallel::ProcessGroups::single();
  model::Qwen2ForCausalLM whole(config, *single);
  std::vector<torch::Tensor> whole_params;
  for (const auto& s : whole->param_shards()) whole_params.push_back(s.tensor);
  optim::AdamW whole_adamw(whole_params, std::vector<bool>(whole_params.size(), true), {});
  io::load_checkpoint(path, *whole, &whole_adamw, *single);
  CHECK(whole_adamw.steps() == 7);
  auto shards = whole->param_shards();
  for (size_t i = 0; i < shards.size(); ++i) {
    INFO("tp=1: " << shards[i].name);
    CHECK(torch::equal(shards[i].tensor.detach(), full.at(shards[i].name)));
    CHECK(torch::equal(whole_adamw.exp_avg(i), full.at(shards[i].name) * 3));
    CHECK(torch::equal(whole_adamw.exp_avg_sq(i), full.at(shards[i].name).abs()));
  }
}
