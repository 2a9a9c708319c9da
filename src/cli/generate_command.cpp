// `acerl generate`; see generate_command.h.
#include "cli/generate_command.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "data/prompt_dataset.h"
#include "job/setup.h"
#include "rollout/rollout_setup.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace po = boost::program_options;

namespace acerl::cli {

void add_generate_flags(po::options_description& flags) {
  flags.add_options()(
      "prompt", po::value<std::string>(),
      "generate for this one prompt (instead of data.path) and print the completion");
}

int run_generate(MpiRuntime& runtime, Invocation& inv) {
  const config::Config& cfg = inv.config;
  const bool single = inv.flags.count("prompt") > 0;
  model::Qwen2Config architecture;
  std::unique_ptr<parallel::ProcessGroups> groups;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  tokenizer::ChatTemplate chat(cfg.chat);
  std::vector<data::PromptRecord> prompts;
  rollout::GeneratorOptions options;
  runtime.agree([&] {
    ACERL_USAGE_CHECK(single || !cfg.data.path.empty(),
                      "give prompts: data.path = a JSONL, or --prompt TEXT");
    auto basics = job::job_basics(runtime, cfg);
    architecture = basics.architecture;
    groups = std::move(basics.groups);
    tok = std::move(basics.tokenizer);
    options = rollout::generator_options(cfg, *tok, basics.precision);
    if (single) {
      data::PromptRecord r;
      r.id = "prompt";
      r.prompt = inv.flags["prompt"].as<std::string>();
      r.kind = tokenizer::TaskKind::math;
      r.type = "math";
      prompts.push_back(r);
    } else {
      prompts = data::load_prompts(cfg.data.path, cfg.data.skip_bad_lines, false);
    }
  });
  const parallel::ProcessGroups& g = *groups;
  auto model = job::build_model(cfg, architecture, g);
  auto [first, count] = rollout::replica_share(prompts.size(), g);
  std::vector<rollout::GenerationRequest> requests;
  for (size_t i = first; i < first + count; ++i)
    requests.push_back({prompts[i].id,
                        rollout::prompt_ids(prompts[i], *tok, chat, cfg.generate.chat),
                        cfg.rollout.n});
  auto start = std::chrono::steady_clock::now();
  rollout::Generator generator(*model, g, options);
  auto completions = rollout::gather_completions(generator.generate(requests), first, g);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (g.rank() != 0) return 0;

  int64_t tokens = 0, truncated = 0;
  double entropy = 0;
  const std::string out_path =
      cfg.generate.output.empty()
          ? (std::filesystem::path(cfg.run.dir) / "completions.jsonl").string()
          : cfg.generate.output;
  std::ofstream out;
  if (!single) {
    if (auto parent = std::filesystem::path(out_path).parent_path(); !parent.empty())
      std::filesystem::create_directories(parent);
    out.open(out_path, std::ios::trunc);
    ACERL_USAGE_CHECK(out.good(), "cannot write '", out_path, "'");
  }
  for (const auto& c : completions) {
    const auto& p = prompts[c.request];
    // A model's vocabulary may be padded past the tokenizer's; such ids have no text.
    std::vector<int32_t> ids;
    for (int64_t t : c.tokens)
      if (t < tok->vocab_size()) ids.push_back(static_cast<int32_t>(t));
    const std::string text = tok->decode(ids, /*skip_special=*/true);
    tokens += static_cast<int64_t>(c.tokens.size());
    truncated += c.truncated;
    entropy += c.mean_entropy();
    if (single) {
      std::cout << text << std::endl;
      continue;
    }
    json::Value v;
    v.set("id", p.id);
    v.set("sample", c.sample);
    v.set("prompt", p.prompt);
    v.set("completion", text);
    v.set("tokens", static_cast<int64_t>(c.tokens.size()));
    v.set("mean_entropy", c.mean_entropy());
    if (!options.entropy_temperatures.empty()) {
      json::Value curve;
      const size_t k = options.entropy_temperatures.size();
      for (size_t t = 0; t < k; ++t) {
        double sum = 0;
        for (size_t i = 0; i < c.tokens.size(); ++i) sum += c.entropy_curve[i * k + t];
        curve.set(json::dump(json::Value(options.entropy_temperatures[t])),
                  c.tokens.empty() ? 0.0 : sum / static_cast<double>(c.tokens.size()));
      }
      v.set("mean_entropy_at", curve);
    }
    v.set("finish_reason", c.finish_reason());
    v.set("truncated", c.truncated);
    out << json::dump(v) << "\n";
  }
  const double n = std::max<double>(1, static_cast<double>(completions.size()));
  log0(str("generated ", completions.size(), " completions, ", tokens, " tokens in ", seconds,
           " s (", static_cast<double>(tokens) / seconds, " tok/s); mean entropy ", entropy / n,
           "; truncated ", truncated, single ? "" : "; wrote " + out_path));
  return 0;
}

}  // namespace acerl::cli
