// Rollout configuration glue; see rollout_setup.h.
#include "rollout/rollout_setup.h"

#include <sstream>

#include "parallel/gather.h"
#include "runtime/error.h"

namespace acerl::rollout {
namespace {

// Completions travel between replicas as JSON (a handful per prompt; simplicity wins).
json::Value to_json(const Completion& c) {
  json::Value v;
  v.set("request", static_cast<int64_t>(c.request));
  v.set("sample", c.sample);
  json::Array tokens, logprobs, entropies, curve;
  for (int64_t t : c.tokens) tokens.emplace_back(t);
  for (float x : c.logprobs) logprobs.emplace_back(static_cast<double>(x));
  for (float x : c.entropies) entropies.emplace_back(static_cast<double>(x));
  for (float x : c.entropy_curve) curve.emplace_back(static_cast<double>(x));
  v.set("tokens", tokens);
  v.set("logprobs", logprobs);
  v.set("entropies", entropies);
  v.set("curve", curve);
  v.set("truncated", c.truncated);
  return v;
}

Completion from_json(const json::Value& v) {
  Completion c;
  c.request = static_cast<size_t>(v.at("request").as_int());
  c.sample = v.at("sample").as_int();
  for (const auto& t : v.at("tokens").as_array()) c.tokens.push_back(t.as_int());
  for (const auto& x : v.at("logprobs").as_array())
    c.logprobs.push_back(static_cast<float>(x.as_number()));
  for (const auto& x : v.at("entropies").as_array())
    c.entropies.push_back(static_cast<float>(x.as_number()));
  for (const auto& x : v.at("curve").as_array())
    c.entropy_curve.push_back(static_cast<float>(x.as_number()));
  c.truncated = v.at("truncated").as_bool();
  return c;
}

}  // namespace

std::vector<int64_t> stop_token_ids(const std::string& stop, const tokenizer::Tokenizer& tok) {
  std::vector<int64_t> ids;
  std::stringstream in(stop);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
    if (b == std::string::npos) continue;
    item = item.substr(b, e - b + 1);
    if (std::all_of(item.begin(), item.end(),
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      ACERL_USAGE_CHECK(item.size() <= 9 && std::stoll(item) < tok.vocab_size(),
                        "rollout.stop: id ", clip_text(item), " is outside the tokenizer's ",
                        tok.vocab_size(), " ids (0 .. ", tok.vocab_size() - 1, ")");
      ids.push_back(std::stoll(item));
      continue;
    }
    auto id = tok.find_token(item);
    ACERL_USAGE_CHECK(id.has_value(), "rollout.stop: '", item,
                      "' is not a token of the tokenizer (give token ",
                      "strings such as <|im_end|> or ids)");
    ids.push_back(*id);
  }
  return ids;
}

GeneratorOptions generator_options(const config::Config& config, const tokenizer::Tokenizer& tok,
                                   model::Precision precision) {
  GeneratorOptions o;
  o.sampling = {config.rollout.temperature, config.rollout.top_p, config.rollout.top_k};
  o.max_new_tokens = config.rollout.max_new_tokens;
  o.stop_tokens = stop_token_ids(config.rollout.stop, tok);
  o.max_batch = config.rollout.max_batch;
  o.entropy_temperatures = config.rollout.entropy_temperatures.values;
  o.seed = static_cast<uint64_t>(config.run.seed);
  o.precision = precision;
  o.decode = parse_decode_mode(config.rollout.decode);
  o.shared_prefill = config.rollout.shared_prefill;
  return o;
}

std::vector<int64_t> prompt_ids(const data::PromptRecord& record, const tokenizer::Tokenizer& tok,
                                const tokenizer::ChatTemplate& chat, bool use_chat) {
  std::vector<int32_t> ids =
      use_chat ? chat.encode_prompt(tok, record.prompt, record.kind) : tok.encode(record.prompt);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

std::pair<size_t, size_t> share(size_t n, size_t parts, size_t r) {
  const size_t base = n / parts, extra = n % parts;
  const size_t first = r * base + std::min(r, extra);
  return {first, base + (r < extra ? 1 : 0)};
}

size_t share_owner(size_t n, size_t parts, size_t i) {
  const size_t base = n / parts, extra = n % parts;
  // The first `extra` shares hold base + 1 items each, the others base.
  if (i < extra * (base + 1)) return i / (base + 1);
  return extra + (i - extra * (base + 1)) / base;
}

std::pair<size_t, size_t> replica_share(size_t n, const parallel::ProcessGroups& groups) {
  return share(n, static_cast<size_t>(groups.layout().dp), static_cast<size_t>(groups.dp_rank()));
}

std::vector<Completion> gather_completions(const std::vector<Completion>& mine, size_t first,
                                           const parallel::ProcessGroups& groups) {
  if (groups.layout().dp == 1) return mine;
  json::Value list = json::Array{};
  for (Completion c : mine) {
    c.request += first;
    list.push_back(to_json(c));
  }
  std::string text = json::dump(list);
  // Every replica holds the same completions on all of its ranks: exchange over dp only.
  std::vector<int> lengths;
  const std::string all = parallel::all_gather_concat(text, groups.dp().mpi_comm(), &lengths);
  std::vector<Completion> out;
  size_t offset = 0;
  for (size_t r = 0; r < lengths.size(); ++r) {
    const auto length = static_cast<size_t>(lengths[r]);
    json::Value part = json::parse(std::string_view(all).substr(offset, length),
                                   "completions of replica " + std::to_string(r));
    offset += length;
    for (const auto& v : part.as_array()) out.push_back(from_json(v));
  }
  return out;
}

}  // namespace acerl::rollout
