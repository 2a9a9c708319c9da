// `acerl eval`; see evaluator.h.
#include "eval/evaluator.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data/prompt_dataset.h"
#include "eval/metrics.h"
#include "io/trace.h"
#include "job/setup.h"
#include "reward/registry.h"
#include "rollout/rollout_setup.h"
#include "runtime/error.h"
#include "runtime/log.h"

namespace acerl::eval {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split_files(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

}  // namespace

int run_eval(MpiRuntime& runtime, const config::Config& cfg, const std::string& resolved) {
  model::Qwen2Config architecture;
  std::unique_ptr<parallel::ProcessGroups> groups;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  tokenizer::ChatTemplate chat(cfg.chat);
  std::vector<std::string> files = split_files(cfg.eval.files);
  std::vector<std::vector<data::PromptRecord>> benchmarks;
  rollout::GeneratorOptions options;
  runtime.agree([&] {
    ACERL_USAGE_CHECK(!files.empty(),
                      "missing required key 'eval.files' (benchmark JSONL files, comma-separated)");
    auto basics = job::job_basics(runtime, cfg);
    architecture = basics.architecture;
    groups = std::move(basics.groups);
    tok = std::move(basics.tokenizer);
    for (const auto& f : files)
      benchmarks.push_back(data::load_prompts(f, cfg.data.skip_bad_lines, true));
    options = rollout::generator_options(cfg, *tok, basics.precision);
    options.sampling = {cfg.eval.temperature, cfg.eval.top_p, 0};
    options.max_new_tokens = cfg.eval.max_new_tokens;
  });
  const parallel::ProcessGroups& g = *groups;
  auto model = job::build_model(cfg, architecture, g);
  std::unique_ptr<reward::RewardRegistry> rewards;
  if (g.rank() == 0)
    rewards = std::make_unique<reward::RewardRegistry>(cfg.math_reward, cfg.code_reward);
  std::unique_ptr<io::Trace> trace;
  if (g.rank() == 0)
    trace = std::make_unique<io::Trace>(cfg.trace.path.empty()
                                            ? (fs::path(cfg.run.dir) / "eval_trace.h5").string()
                                            : cfg.trace.path,
                                        resolved, /*resume=*/true, INT64_MAX);
  json::Value report;
  report.set("k", cfg.eval.k);
  report.set("temperature", cfg.eval.temperature);
  report.set("top_p", cfg.eval.top_p);
  report.set("max_new_tokens", cfg.eval.max_new_tokens);
  report.set("model", cfg.model.path.empty() ? cfg.model.init : cfg.model.path);
  json::Value list = json::Array{};
  for (size_t b = 0; b < files.size(); ++b) {
    const auto& prompts = benchmarks[b];
    auto [first, count] = rollout::replica_share(prompts.size(), g);
    std::vector<rollout::GenerationRequest> requests;
    for (size_t i = first; i < first + count; ++i)
      requests.push_back(
          {prompts[i].id, rollout::prompt_ids(prompts[i], *tok, chat, true), cfg.eval.k});
    auto completions = rollout::gather_completions(
        rollout::Generator(*model, g, options).generate(requests), first, g);
    if (g.rank() != 0) continue;

    std::vector<std::string> texts;
    std::vector<reward::RewardRequest> scoring;
    for (const auto& c : completions) {
      std::vector<int32_t> ids;
      for (int64_t t : c.tokens)
        if (t < tok->vocab_size()) ids.push_back(static_cast<int32_t>(t));
      texts.push_back(tok->decode(ids, true));
    }
    for (size_t i = 0; i < completions.size(); ++i) {
      const auto& p = prompts[completions[i].request];
      scoring.push_back({p.type, texts[i], &p.answer, &p.tests, p.where});
    }
    auto results = rewards->score(scoring);
    std::vector<int64_t> correct(prompts.size(), 0);
    std::vector<std::vector<std::string>> reasons(prompts.size());
    std::map<std::string, int64_t> reason_counts;
    double length = 0, truncated = 0;
    for (size_t i = 0; i < completions.size(); ++i) {
      const size_t p = completions[i].request;
      correct[p] += results[i].score > 0;
      reasons[p].push_back(results[i].reason);
      ++reason_counts[prompts[p].type + "/" + results[i].reason];
      length += static_cast<double>(completions[i].tokens.size());
      truncated += completions[i].truncated;
    }
    BenchmarkResult r;
    r.file = files[b];
    r.problems = static_cast<int64_t>(prompts.size());
    r.k = cfg.eval.k;
    AvgAtK avg = avg_at_k(correct, cfg.eval.k);
    r.avg_at_k = avg.mean;
    r.standard_error = avg.standard_error;
    for (int64_t k = 1; k <= cfg.eval.k; k *= 2) {
      double sum = 0;
      for (int64_t c : correct) sum += pass_at_k(cfg.eval.k, c, k);
      r.pass_at.emplace_back(k, sum / static_cast<double>(prompts.size()));
    }
    if (r.pass_at.back().first != cfg.eval.k) {
      double sum = 0;
      for (int64_t c : correct) sum += pass_at_k(cfg.eval.k, c, cfg.eval.k);
      r.pass_at.emplace_back(cfg.eval.k, sum / static_cast<double>(prompts.size()));
    }
    const double n = std::max<double>(1, static_cast<double>(completions.size()));
    r.response_length = length / n;
    r.truncation_rate = truncated / n;

    // Per-problem results next to the report.
    const std::string stem = fs::path(files[b]).stem().string();
    const std::string problems_path =
        (fs::path(cfg.run.dir) / ("eval_" + stem + "_problems.jsonl")).string();
    fs::create_directories(cfg.run.dir);
    std::ofstream problems_out(problems_path, std::ios::trunc);
    for (size_t p = 0; p < prompts.size(); ++p) {
      json::Value v;
      v.set("id", prompts[p].id);
      v.set("type", prompts[p].type);
      v.set("correct", correct[p]);
      v.set("samples", cfg.eval.k);
      json::Value why = json::Array{};
      for (const auto& reason : reasons[p]) why.push_back(reason);
      v.set("reasons", why);
      problems_out << json::dump(v) << "\n";
    }
    json::Value item;
    item.set("file", files[b]);
    item.set("problems", r.problems);
    item.set("avg_at_k", r.avg_at_k);
    item.set("standard_error", r.standard_error);
    json::Value pass;
    for (const auto& [k, value] : r.pass_at) pass.set(std::to_string(k), value);
    item.set("pass_at", pass);
    json::Value why;
    for (const auto& [name, count_] : reason_counts) why.set(name, count_);
    item.set("reasons", why);
    item.set("response_length_mean", r.response_length);
    item.set("truncation_rate", r.truncation_rate);
    item.set("problems_file", problems_path);
    list.push_back(item);
    io::Trace::Scalars row = {{"avg_at_k", r.avg_at_k},
                              {"standard_error", r.standard_error},
                              {"problems", double(r.problems)},
                              {"response_length_mean", r.response_length},
                              {"truncation_rate", r.truncation_rate}};
    for (const auto& [k, value] : r.pass_at)
      row.emplace_back("pass_at_" + std::to_string(k), value);
    trace->add("eval", static_cast<int64_t>(b), row);
    trace->set_text("eval", "file_" + std::to_string(b), files[b]);
    char line[256];
    std::snprintf(
        line, sizeof line,
        "eval %s: %lld problems x %lld samples: avg@%lld %.4f +- %.4f (SE), pass@%lld %.4f",
        stem.c_str(), static_cast<long long>(r.problems), static_cast<long long>(r.k),
        static_cast<long long>(r.k), r.avg_at_k, r.standard_error,
        static_cast<long long>(r.pass_at.back().first), r.pass_at.back().second);
    log0(line);
  }
  if (g.rank() == 0) {
    report.set("benchmarks", list);
    const std::string path =
        cfg.eval.report.empty() ? (fs::path(cfg.run.dir) / "eval.json").string() : cfg.eval.report;
    if (auto parent = fs::path(path).parent_path(); !parent.empty()) fs::create_directories(parent);
    std::ofstream(path, std::ios::trunc) << json::dump(report) << "\n";
    log0(str("wrote ", path));
  }
  return 0;
}

}  // namespace acerl::eval
