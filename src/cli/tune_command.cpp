// `acerl tune-temperature`; see tune_command.h.
#include "cli/tune_command.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "data/prompt_dataset.h"
#include "job/setup.h"
#include "rl/temperature.h"
#include "rollout/rollout_setup.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace acerl::cli {

int run_tune_temperature(MpiRuntime& runtime, Invocation& inv) {
  const config::Config& cfg = inv.config;
  model::Qwen2Config architecture;
  std::unique_ptr<parallel::ProcessGroups> groups;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  tokenizer::ChatTemplate chat(cfg.chat);
  std::vector<data::PromptRecord> prompts;
  rollout::GeneratorOptions options;
  runtime.agree([&] {
    ACERL_USAGE_CHECK(!cfg.data.path.empty(),
                      "missing required key 'data.path' (the prompts to measure on)");
    auto basics = job::job_basics(runtime, cfg);
    architecture = basics.architecture;
    groups = std::move(basics.groups);
    tok = std::move(basics.tokenizer);
    prompts = data::load_prompts(cfg.data.path, cfg.data.skip_bad_lines, false);
    if (static_cast<int64_t>(prompts.size()) > cfg.tune.prompts)
      prompts.resize(static_cast<size_t>(cfg.tune.prompts));
    options = rollout::generator_options(cfg, *tok, basics.precision);
    options.sampling = {cfg.tune.temperature, 1.0, 0};
    options.entropy_temperatures = cfg.rl.entropy_grid.values;
  });
  const parallel::ProcessGroups& g = *groups;
  auto model = job::build_model(cfg, architecture, g);
  auto [first, count] = rollout::replica_share(prompts.size(), g);
  std::vector<rollout::GenerationRequest> requests;
  for (size_t i = first; i < first + count; ++i)
    requests.push_back(
        {prompts[i].id, rollout::prompt_ids(prompts[i], *tok, chat, true), cfg.tune.samples});
  auto completions = rollout::gather_completions(
      rollout::Generator(*model, g, options).generate(requests), first, g);
  const auto& grid = cfg.rl.entropy_grid.values;
  std::vector<double> curve(grid.size(), 0.0);
  double tokens = 0, entropy = 0;
  for (const auto& c : completions) {
    for (size_t i = 0; i < c.tokens.size(); ++i) {
      entropy += c.entropies[i];
      for (size_t k = 0; k < grid.size(); ++k) curve[k] += c.entropy_curve[i * grid.size() + k];
    }
    tokens += static_cast<double>(c.tokens.size());
  }
  for (double& h : curve) h /= std::max(1.0, tokens);
  const double best = rl::temperature_for_entropy(grid, curve, cfg.rl.target_entropy);
  if (g.rank() != 0) return 0;
  std::string table =
      str("entropy of the sampled tokens (", static_cast<int64_t>(tokens), " tokens of ",
          completions.size(), " completions sampled at T = ", cfg.tune.temperature,
          "; H at T = ", entropy / std::max(1.0, tokens), "):\n      T   H(T)\n");
  for (size_t k = 0; k < grid.size(); ++k) {
    char line[64];
    std::snprintf(line, sizeof line, "  %5.2f  %.4f\n", grid[k], curve[k]);
    table += line;
  }
  char tail[128];
  std::snprintf(tail, sizeof tail, "temperature for entropy %.3f: %.3f", cfg.rl.target_entropy,
                best);
  log0(table + tail);
  json::Value out;
  json::Value t = json::Array{}, h = json::Array{};
  for (size_t k = 0; k < grid.size(); ++k) {
    t.push_back(grid[k]);
    h.push_back(curve[k]);
  }
  out.set("grid", t);
  out.set("entropy", h);
  out.set("target_entropy", cfg.rl.target_entropy);
  out.set("temperature", best);
  out.set("tokens", tokens);
  std::filesystem::create_directories(cfg.run.dir);
  std::ofstream(std::filesystem::path(cfg.run.dir) / "tune_temperature.json")
      << json::dump(out) << "\n";
  return 0;
}

}  // namespace acerl::cli
