// Reading and checking tokenizer.json; see tokenizer_spec.h. Supported: model BPE (no dropout,
// no subword prefix/suffix), normalizer null | NFC | Sequence of those, pre-tokenizer ByteLevel |
// Split(Qwen2 or GPT-2 regex, Isolated) | Sequence of those with a ByteLevel, decoder ByteLevel.
// The post-processor is ignored: acerl never adds BOS/EOS implicitly.
#include "tokenizer/tokenizer_spec.h"

#include "io/json.h"
#include "runtime/error.h"

namespace acerl::tokenizer {
namespace {

std::string type_of(const json::Value& v) {
  const json::Value* t = v.is_object() ? v.find("type") : nullptr;
  return t && t->is_string() ? t->as_string() : "";
}

bool flag(const json::Value& v, std::string_view key, bool fallback) {
  const json::Value* f = v.find(key);
  return f && !f->is_null() ? f->as_bool() : fallback;
}

void read_normalizer(const json::Value& v, TokenizerSpec& spec) {
  if (v.is_null()) return;
  const std::string type = type_of(v);
  if (type == "NFC") {
    spec.nfc = true;
  } else if (type == "Sequence") {
    for (const auto& n : v.at("normalizers").as_array()) read_normalizer(n, spec);
  } else {
    throw UsageError(str(spec.source, ": unsupported normalizer type '", type,
                         "' (supported: NFC, Sequence of NFC, none)"));
  }
}

void read_pre_tokenizer(const json::Value& v, TokenizerSpec& spec, bool& byte_level) {
  const std::string type = type_of(v);
  if (type == "Sequence") {
    for (const auto& p : v.at("pretokenizers").as_array()) read_pre_tokenizer(p, spec, byte_level);
  } else if (type == "ByteLevel") {
    byte_level = true;
    if (flag(v, "add_prefix_space", true))
      spec.pre_tokenizer.push_back({PreTokenizerStep::Kind::prefix_space});
    if (flag(v, "use_regex", true))
      spec.pre_tokenizer.push_back({PreTokenizerStep::Kind::split, SplitPattern::gpt2});
  } else if (type == "Split") {
    const json::Value& pattern = v.at("pattern");
    const json::Value* regex = pattern.find("Regex");
    ACERL_USAGE_CHECK(regex, spec.source, ": Split pre-tokenizer with pattern ",
                      json::dump(pattern), " (only a {\"Regex\": ...} pattern is supported)");
    const SplitPattern p = parse_split_pattern(regex->as_string(), spec.source);
    const json::Value* behavior = v.find("behavior");
    const std::string b = behavior ? behavior->as_string() : "Isolated";
    ACERL_USAGE_CHECK(b == "Isolated" && !flag(v, "invert", false), spec.source,
                      ": Split pre-tokenizer with behavior '", b,
                      "' or invert (supported: behavior Isolated, invert false)");
    spec.pre_tokenizer.push_back({PreTokenizerStep::Kind::split, p});
  } else {
    throw UsageError(str(spec.source, ": unsupported pre-tokenizer type '", type,
                         "' (supported: ByteLevel, Split, Sequence of those)"));
  }
}

void read_merges(const json::Value& merges, TokenizerSpec& spec) {
  const auto& list = merges.as_array();
  spec.merges.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const json::Value& m = list[i];
    if (m.is_array() && m.as_array().size() == 2) {  // ["a", "b"]
      spec.merges.emplace_back(m.as_array()[0].as_string(), m.as_array()[1].as_string());
      continue;
    }
    const std::string text = m.is_string() ? m.as_string() : json::dump(m);
    const size_t space = text.find(' ');
    ACERL_USAGE_CHECK(m.is_string() && space != std::string::npos &&
                          text.find(' ', space + 1) == std::string::npos,
                      spec.source, ": model.merges[", i, "] is ", json::quote(text),
                      " (expected \"a b\" or [\"a\", \"b\"])");
    spec.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
  }
}

void read_model(const json::Value& model, TokenizerSpec& spec) {
  const std::string type = type_of(model);
  ACERL_USAGE_CHECK(type.empty() || type == "BPE", spec.source, ": unsupported model type '", type,
                    "' (only byte-level BPE is supported)");
  const json::Value* vocab = model.find("vocab");
  const json::Value* merges = model.find("merges");
  ACERL_USAGE_CHECK(vocab && vocab->is_object(), spec.source,
                    ": model.vocab is missing or not an object");
  ACERL_USAGE_CHECK(merges && merges->is_array(), spec.source,
                    ": model.merges is missing or not an array (a BPE model needs its merges)");
  const json::Value* dropout = model.find("dropout");
  ACERL_USAGE_CHECK(!dropout || dropout->is_null() || dropout->as_number() == 0, spec.source,
                    ": BPE dropout is not supported");
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json::Value* affix = model.find(key);
    ACERL_USAGE_CHECK(!affix || affix->is_null() || affix->as_string().empty(), spec.source,
                      ": BPE ", key, " '", affix ? affix->as_string() : "",
                      "' is not supported (byte-level BPE has none)");
  }
  spec.ignore_merges = flag(model, "ignore_merges", false);
  spec.vocab.reserve(vocab->as_object().size());
  for (const auto& [text, id] : vocab->as_object())
    spec.vocab.emplace_back(text, static_cast<int32_t>(id.as_int()));
  read_merges(*merges, spec);
}

void read_added_tokens(const json::Value& list, TokenizerSpec& spec) {
  for (const auto& t : list.as_array()) {
    AddedToken token;
    token.content = t.at("content").as_string();
    token.id = static_cast<int32_t>(t.at("id").as_int());
    token.special = flag(t, "special", false);
    token.single_word = flag(t, "single_word", false);
    token.lstrip = flag(t, "lstrip", false);
    token.rstrip = flag(t, "rstrip", false);
    token.normalized = flag(t, "normalized", !token.special);
    spec.added_tokens.push_back(std::move(token));
  }
}

}  // namespace

TokenizerSpec read_tokenizer_spec(std::string_view json_text, const std::string& source) {
  TokenizerSpec spec;
  spec.source = source;
  const json::Value doc = json::parse(json_text, source);
  try {
    ACERL_USAGE_CHECK(doc.is_object(), source, ": not a tokenizer.json (expected a JSON object)");
    ACERL_USAGE_CHECK(doc.find("model"), source, ": no \"model\" (not a tokenizer.json?)");
    read_model(doc.at("model"), spec);
    const json::Value* normalizer = doc.find("normalizer");
    if (normalizer) read_normalizer(*normalizer, spec);
    const json::Value* pre = doc.find("pre_tokenizer");
    bool byte_level = false;
    if (pre && !pre->is_null()) read_pre_tokenizer(*pre, spec, byte_level);
    ACERL_USAGE_CHECK(
        byte_level, source,
        ": the pre-tokenizer has no ByteLevel step (only byte-level BPE is supported)");
    const json::Value* decoder = doc.find("decoder");
    const std::string decoder_type = decoder ? type_of(*decoder) : "";
    ACERL_USAGE_CHECK(decoder_type == "ByteLevel", source, ": unsupported decoder '", decoder_type,
                      "' (supported: ByteLevel)");
    const json::Value* added = doc.find("added_tokens");
    if (added && !added->is_null()) read_added_tokens(*added, spec);
  } catch (const UsageError& e) {
    // json::Value accessors name the key but not the file.
    const std::string what = e.what();
    if (what.rfind(source, 0) == 0) throw;
    throw UsageError(str(source, ": ", what));
  }
  return spec;
}

}  // namespace acerl::tokenizer
