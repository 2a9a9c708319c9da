// The SFT training loop; see sft_trainer.h.
#include "train/sft_trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "data/packing.h"
#include "data/sft_dataset.h"
#include "io/checkpoint.h"
#include "io/trace.h"
#include "job/setup.h"
#include "optim/adamw.h"
#include "parallel/grad_sync.h"
#include "runtime/error.h"
#include "runtime/exit_codes.h"
#include "runtime/host_block_cache.h"
#include "runtime/log.h"
#include "runtime/watchdog.h"
#include "tokenizer/chat_template.h"
#include "train/profiler.h"
#include "train/run_control.h"
#include "train/throughput.h"
#include "train/train_step.h"

namespace acerl::train {
namespace {

namespace fs = std::filesystem;

struct SftData {
  std::vector<data::Document> train, eval;
  std::vector<std::vector<data::RowPlan>> epochs;  // packed rows of every epoch
  std::vector<int64_t> first_step;                 // global step at which each epoch starts
  int64_t total_steps = 0;
};

SftData prepare_data(const config::Config& cfg, const tokenizer::Tokenizer& tok,
                     const tokenizer::ChatTemplate& chat) {
  SftData d;
  data::SftLoadStats stats;
  auto examples = data::load_sft_examples(cfg.data.path, cfg.data.skip_bad_lines, &stats, chat);
  examples = data::select_examples(examples, cfg.sft.max_prompts, cfg.sft.responses_per_prompt,
                                   static_cast<uint64_t>(cfg.run.seed), &stats);
  d.train = data::tokenize_examples(examples, tok, chat, cfg.sft.seq_len, &stats);
  ACERL_USAGE_CHECK(!d.train.empty(), "every example of ", cfg.data.path,
                    " is longer than sft.seq_len = ", cfg.sft.seq_len,
                    " before its response starts: raise sft.seq_len (prompt + chat template)");
  int64_t tokens = 0;
  for (const auto& doc : d.train) tokens += static_cast<int64_t>(doc.ids.size());
  log0(str("data: ", stats.records, " records (", stats.bad_lines, " bad lines skipped) from ",
           cfg.data.path, "; ", stats.prompts, " prompts and ", stats.kept, " examples selected; ",
           tokens, " tokens; ", stats.truncated, " examples cut to sft.seq_len = ", cfg.sft.seq_len,
           ", ", stats.no_response, " of them dropped (no response token left)"));
  if (!cfg.data.eval_path.empty()) {
    data::SftLoadStats eval_stats;
    auto held_out =
        data::load_sft_examples(cfg.data.eval_path, cfg.data.skip_bad_lines, &eval_stats, chat);
    d.eval = data::tokenize_examples(held_out, tok, chat, cfg.sft.seq_len, &eval_stats);
  }
  // Only the epochs the run reaches are packed: sft.max_steps may stop it long before
  // sft.epochs (a fixed step budget over data sets of different size).
  for (int64_t e = 0; e < cfg.sft.epochs; ++e) {
    if (cfg.sft.max_steps > 0 && d.total_steps >= cfg.sft.max_steps) break;
    d.first_step.push_back(d.total_steps);
    d.epochs.push_back(
        data::pack_epoch(d.train, cfg.sft.seq_len, static_cast<uint64_t>(cfg.run.seed), e));
    d.total_steps +=
        data::steps_per_epoch(static_cast<int64_t>(d.epochs.back().size()), cfg.sft.global_batch);
  }
  if (cfg.sft.max_steps > 0) d.total_steps = std::min(d.total_steps, cfg.sft.max_steps);
  return d;
}

std::string format_duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

}  // namespace

int run_sft(MpiRuntime& runtime, const config::Config& cfg, const std::string& resolved_config,
            bool resume_flag) {
  // Each step allocates what the step before it freed: from the block cache, not from malloc.
  HostBlockCacheScope host_blocks;
  model::Qwen2Config architecture;
  std::unique_ptr<parallel::ProcessGroups> groups;
  std::unique_ptr<tokenizer::Tokenizer> tok;
  model::Precision precision = model::Precision::fp32;
  tokenizer::ChatTemplate chat(cfg.chat);
  SftData data;
  runtime.agree([&] {
    ACERL_USAGE_CHECK(!cfg.data.path.empty(), "missing required key 'data.path' (the SFT JSONL)");
    auto basics = job::job_basics(runtime, cfg);
    architecture = basics.architecture;
    groups = std::move(basics.groups);
    tok = std::move(basics.tokenizer);
    precision = basics.precision;
    const int64_t dp = groups->layout().dp;
    ACERL_USAGE_CHECK(cfg.sft.global_batch % (dp * cfg.sft.micro_batch) == 0,
                      "sft.global_batch = ", cfg.sft.global_batch,
                      " must be a multiple of data-parallel ranks (", dp, ") * sft.micro_batch (",
                      cfg.sft.micro_batch, ")");
    data = prepare_data(cfg, *tok, chat);
  });
  const parallel::ProcessGroups& g = *groups;
  auto model = job::build_model(cfg, architecture, g);
  model->set_activation_checkpointing(cfg.model.activation_checkpointing);

  std::vector<torch::Tensor> params, split, replicated;
  std::vector<bool> decay;
  for (const auto& s : model->param_shards()) {
    params.push_back(s.tensor);
    (s.split_dim >= 0 ? split : replicated).push_back(s.tensor);
    decay.push_back(s.tensor.dim() >= 2);  // matrices decay; biases and norm weights do not
  }
  optim::AdamW adamw(params, decay,
                     {cfg.sft.beta1, cfg.sft.beta2, cfg.sft.eps, cfg.sft.weight_decay});
  parallel::GradSync sync(params, g.dp());

  const std::string run_dir = cfg.run.dir;
  io::CheckpointManager checkpoints(cfg.checkpoint.dir.empty()
                                        ? (fs::path(run_dir) / "checkpoints").string()
                                        : cfg.checkpoint.dir,
                                    cfg.checkpoint.keep, g);
  int64_t step = 0;
  std::string last_checkpoint;  // the newest checkpoint this run can go back to
  const bool resume = resume_flag || cfg.checkpoint.resume != "never";
  runtime.agree([&] {
    if (!resume) return;
    std::string path = cfg.checkpoint.resume == "never" || cfg.checkpoint.resume == "auto"
                           ? checkpoints.latest()
                           : cfg.checkpoint.resume;
    if (path.empty()) {
      log0("resume: " + checkpoints.dir() +
           " holds no checkpoint yet, starting from the beginning");
      return;
    }
    io::CheckpointInfo info = io::load_checkpoint(path, *model, &adamw, g);
    step = info.step;
    last_checkpoint = path;
    log0(str("resumed from ", path, " at step ", step));
  });
  checkpoints.prepare(step);
  std::unique_ptr<io::Trace> trace;
  if (g.rank() == 0)
    trace = std::make_unique<io::Trace>(
        cfg.trace.path.empty() ? (fs::path(run_dir) / "trace.h5").string() : cfg.trace.path,
        resolved_config, resume, step);
  RunControl control(cfg, g.world(), "sft");
  Watchdog watchdog(cfg.run.collective_timeout_s, g.rank());
  Throughput throughput(architecture, cfg.sft.seq_len, precision, cfg.trace.peak_gflops, g);
  log0(str("sft: ", data.total_steps, " steps of ", cfg.sft.global_batch, " rows x ",
           cfg.sft.seq_len, " tokens; layout tp=", g.layout().tp, " pp=", g.layout().pp,
           " dp=", g.layout().dp, "; ", architecture.parameter_count(), " parameters; ",
           model::precision_name(precision)));

  const int64_t rows_per_rank = cfg.sft.global_batch / g.layout().dp;
  auto save = [&](int64_t at_step, int64_t at_epoch) {
    json::Value state;
    state.set("epoch", at_epoch);
    state.set("phase", "sft");
    io::CheckpointInfo info{
        at_step, state, resolved_config, json::dump(architecture.to_json()), {}};
    const auto t0 = std::chrono::steady_clock::now();
    last_checkpoint = checkpoints.save(*model, &adamw, info);
    control.record_checkpoint_seconds(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return last_checkpoint;
  };
  auto evaluate = [&](int64_t at_step) {
    if (data.eval.empty()) return;
    auto plans = data::pack_in_order(data.eval, cfg.sft.seq_len);
    const int64_t per_rank =
        (static_cast<int64_t>(plans.size()) + g.layout().dp - 1) / g.layout().dp;
    auto rows =
        data::materialize(plans, g.dp_rank() * per_rank, per_rank, data.eval, cfg.sft.seq_len);
    StepResult r = evaluate_loss(*model, g, rows, cfg.sft.micro_batch, precision);
    log0(str("sft step ", at_step, ": held-out loss ", r.loss, " over ",
             static_cast<int64_t>(r.global_weight), " response tokens"));
    if (trace) trace->add("sft_eval", at_step, {{"loss", r.loss}, {"tokens", r.global_weight}});
  };

  const auto start = std::chrono::steady_clock::now();
  const int64_t first_step = step;
  int64_t last_saved = step;
  // The epoch that step index `s` (0-based) belongs to.
  auto epoch_of = [&](int64_t s) {
    int64_t e = 0;
    while (e + 1 < static_cast<int64_t>(data.first_step.size()) && s >= data.first_step[e + 1]) ++e;
    return e;
  };
  StepProfiler profiler(
      cfg.run.profile_steps,
      (std::filesystem::path(cfg.run.dir) / "profile" / str("sft_rank", g.rank(), ".json"))
          .string(),
      g.device().is_cuda());
  while (step < data.total_steps) {
    Watchdog::set_step(step + 1);
    ProfiledStep profiled(profiler, step + 1);
    const int64_t epoch = epoch_of(step);
    const int64_t in_epoch = step - data.first_step[epoch];
    auto rows = data::materialize(data.epochs[epoch],
                                  in_epoch * cfg.sft.global_batch + g.dp_rank() * rows_per_rank,
                                  rows_per_rank, data.train, cfg.sft.seq_len);
    const double lr =
        optim::lr_at(step, cfg.sft.warmup_steps, data.total_steps, cfg.sft.lr, cfg.sft.min_lr);
    auto t0 = std::chrono::steady_clock::now();
    sync.zero_grad();
    StepResult result;
    {
      ACERL_PROFILE_PHASE("acerl::forward_backward");
      result = forward_backward(*model, g, rows, cfg.sft.micro_batch, precision, &sync);
    }
    if (fault_nan_at(step + 1, g.rank())) params.front().mutable_grad().fill_(NAN);
    double norm = 0;
    bool finite = false;
    {
      ACERL_PROFILE_PHASE("acerl::optimizer");
      norm = parallel::clip_grad_norm(split, replicated, g, cfg.sft.grad_clip);
      // A non-finite loss or norm anywhere: no update anywhere (the weights stay as they were).
      finite = control.step_is_finite(step + 1, result.loss, norm, params, last_checkpoint);
      if (finite) adamw.step(lr);
    }
    if (fault_inf_weight_at(step + 1, g.rank())) {
      torch::NoGradGuard no_grad;
      params.front().view(-1)[0].fill_(INFINITY);
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    control.record_step_seconds(seconds);
    ++step;
    Throughput::Step rate = throughput.measure(rows, seconds);
    if (trace)
      trace->add("sft", step,
                 {{"loss", result.loss},
                  {"lr", lr},
                  {"grad_norm", norm},
                  {"tokens_per_s", rate.tokens_per_s},
                  {"mfu", rate.mfu},
                  {"step_time", seconds},
                  {"tokens", rate.tokens},
                  {"epoch", double(epoch)},
                  {"skipped", finite ? 0.0 : 1.0}});
    if (step % cfg.log.interval == 0 || step == data.total_steps) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double eta = elapsed / static_cast<double>(step - first_step) *
                         static_cast<double>(data.total_steps - step);
      char line[256];
      std::snprintf(line, sizeof line,
                    "sft step %lld/%lld | epoch %lld/%lld | loss %.4f | lr %.3g | grad %.3f | %.0f "
                    "tok/s | mfu %.1f%% | "
                    "ETA %s",
                    static_cast<long long>(step), static_cast<long long>(data.total_steps),
                    static_cast<long long>(epoch + 1),
                    static_cast<long long>(data.first_step.size()), result.loss, lr, norm,
                    rate.tokens_per_s, 100 * rate.mfu, format_duration(eta).c_str());
      log0(line);
    }
    const bool epoch_end = epoch + 1 < static_cast<int64_t>(data.first_step.size())
                               ? step == data.first_step[epoch + 1]
                               : step == data.total_steps;
    if ((cfg.sft.eval_interval > 0 && step % cfg.sft.eval_interval == 0) ||
        (cfg.sft.eval_interval == 0 && epoch_end))
      evaluate(step);
    if (cfg.checkpoint.interval > 0 && step % cfg.checkpoint.interval == 0 &&
        step < data.total_steps) {
      save(step, epoch);
      last_saved = step;
    }
    if (step == data.total_steps) break;
    const RunControl::Stop stop = control.should_stop();
    if (stop != RunControl::Stop::none) {
      const std::string path = last_saved == step ? last_checkpoint : save(step, epoch);
      log0(str("sft: stopping at step ", step, " for ", control.reason(stop), "; checkpoint ", path,
               "; exit ", kExitStopped, ", resume with --resume"));
      return kExitStopped;
    }
  }
  if (last_saved != step || step == first_step) {
    std::string path = save(step, epoch_of(std::max<int64_t>(step - 1, 0)));
    log0(str("sft done: ", path));
  }
  return kExitFinished;
}

}  // namespace acerl::train
