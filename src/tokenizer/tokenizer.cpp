// The tokenizer pipeline; see tokenizer.h. encode: added tokens (raw text) -> NFC -> added tokens
// (normalised text) -> pre-tokenizer steps -> BPE per piece. decode: the bytes of every token,
// concatenated, then made valid UTF-8.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>
#include <unordered_map>

#include "runtime/error.h"
#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/nfc.h"
#include "tokenizer/tokenizer_spec.h"
#include "tokenizer/unicode.h"

namespace acerl::tokenizer {

class TokenizerModel {
 public:
  explicit TokenizerModel(const TokenizerSpec& spec);
  void encode(std::string_view text, bool parse_special, std::vector<int32_t>& out) const;
  void encode_plain(std::string_view text, size_t step, std::vector<int32_t>& out) const;

  std::string source;
  bool nfc = false;
  std::vector<PreTokenizerStep> steps;
  BpeModel bpe;
  AddedVocabulary added;
  std::unordered_map<std::string, int32_t> added_ids;
  enum class Kind : uint8_t { none, model, added, special };
  std::vector<std::string> bytes;  // by id: what the token decodes to
  std::vector<Kind> kind;          // by id
};

namespace {

std::string normalize_text(bool use_nfc, const std::string& text) {
  std::string buffer;
  return std::string(use_nfc ? nfc(text, buffer) : std::string_view(text));
}

}  // namespace

TokenizerModel::TokenizerModel(const TokenizerSpec& spec)
    : source(spec.source),
      nfc(spec.nfc),
      steps(spec.pre_tokenizer),
      bpe(spec.vocab, spec.merges, spec.ignore_merges, spec.source),
      added(spec.added_tokens, [&](const std::string& t) { return normalize_text(spec.nfc, t); }) {
  // Every id names one token, and the ids run 0 .. N-1 without a hole: an added token inside the
  // model's range must be that entry, past it the added tokens continue the range. Checked before
  // anything is sized by the largest id.
  std::map<int32_t, const AddedToken*> by_id;
  for (const auto& t : spec.added_tokens) {
    ACERL_USAGE_CHECK(t.id >= 0, source, ": added token '", clip_text(t.content),
                      "' has negative id ", t.id);
    auto [it, fresh] = by_id.emplace(t.id, &t);
    ACERL_USAGE_CHECK(fresh, source, ": added tokens '", clip_text(it->second->content), "' and '",
                      clip_text(t.content), "' share id ", t.id, " (each id names one token)");
    if (t.id >= bpe.end_id()) continue;
    const std::string* entry = bpe.entry(t.id);
    ACERL_USAGE_CHECK(!entry || *entry == t.content || byte_level_decode(*entry) == t.content,
                      source, ": added token '", clip_text(t.content), "' has id ", t.id,
                      ", which the model's vocabulary gives to '",
                      clip_text(entry ? *entry : std::string()), "' (each id names one token)");
  }
  int32_t end = bpe.end_id();
  for (const auto& [id, t] : by_id) {
    if (id < bpe.end_id()) continue;
    ACERL_USAGE_CHECK(id == end, source, ": no token has id ", end, " (the next added token, '",
                      clip_text(t->content), "', has id ", id,
                      "): token ids must run from 0 without unused ids, or generation could "
                      "sample an id that decodes to nothing");
    ++end;
  }
  bytes.resize(end);
  kind.assign(end, Kind::none);
  for (int32_t id = 0; id < bpe.end_id(); ++id) {
    if (const std::string* e = bpe.entry(id)) {
      bytes[id] = byte_level_decode(*e);
      kind[id] = Kind::model;
    }
  }
  for (const auto& t : spec.added_tokens) {
    bytes[t.id] = byte_level_decode(t.content);
    kind[t.id] = t.special ? Kind::special : Kind::added;
    added_ids[t.content] = t.id;
  }
}

void TokenizerModel::encode_plain(std::string_view text, size_t step,
                                  std::vector<int32_t>& out) const {
  if (step == steps.size()) {
    bpe.encode(text, out);
    return;
  }
  const PreTokenizerStep& s = steps[step];
  if (s.kind == PreTokenizerStep::Kind::prefix_space) {
    if (!text.empty() && text[0] == ' ') {
      encode_plain(text, step + 1, out);
    } else {
      encode_plain(" " + std::string(text), step + 1, out);
    }
    return;
  }
  split(s.pattern, text, [&](std::string_view piece) { encode_plain(piece, step + 1, out); });
}

void TokenizerModel::encode(std::string_view text, bool parse_special,
                            std::vector<int32_t>& out) const {
  const size_t bad = unicode::find_invalid_utf8(text);
  ACERL_USAGE_CHECK(bad == std::string_view::npos, "tokenizer ", source,
                    ": text is not valid UTF-8 (ill-formed byte sequence at byte offset ", bad,
                    ")");
  std::vector<Segment> raw;
  added.split(text, false, parse_special, raw);
  std::string buffer;
  std::vector<Segment> normalized;
  for (const Segment& segment : raw) {
    if (segment.id >= 0) {
      out.push_back(segment.id);
      continue;
    }
    const std::string_view plain = nfc ? tokenizer::nfc(segment.text, buffer) : segment.text;
    if (!added.has_normalized()) {
      encode_plain(plain, 0, out);
      continue;
    }
    normalized.clear();
    added.split(plain, true, parse_special, normalized);
    for (const Segment& s : normalized) {
      if (s.id >= 0) {
        out.push_back(s.id);
      } else {
        encode_plain(s.text, 0, out);
      }
    }
  }
}

Tokenizer Tokenizer::from_json(std::string_view text, const std::string& source) {
  return Tokenizer(std::make_shared<const TokenizerModel>(read_tokenizer_spec(text, source)));
}

Tokenizer Tokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  ACERL_USAGE_CHECK(in, "cannot open tokenizer file ", path);
  std::ostringstream text;
  text << in.rdbuf();
  const std::string content = text.str();
  if (const size_t bad = unicode::find_invalid_utf8(content); bad != std::string::npos) {
    const auto line =
        1 + std::count(content.begin(), content.begin() + static_cast<long>(bad), '\n');
    throw UsageError(
        str(path, ":", line, ": invalid UTF-8 at byte ", bad, " (a tokenizer.json is UTF-8 text)"));
  }
  return from_json(content, path);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  model_->encode(text, parse_special, ids);
  return ids;
}

void Tokenizer::encode_into(std::string_view text, std::vector<int32_t>& out,
                            bool parse_special) const {
  model_->encode(text, parse_special, out);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  return decode(ids.data(), ids.size(), skip_special);
}

std::string Tokenizer::decode(const int32_t* ids, size_t count, bool skip_special) const {
  std::string raw;
  for (size_t i = 0; i < count; ++i) {
    if (skip_special && is_special(ids[i])) continue;
    raw += token_bytes(ids[i]);
  }
  std::string out;
  out.reserve(raw.size());
  unicode::append_utf8_lossy(out, raw);
  return out;
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  ACERL_USAGE_CHECK(id >= 0 && id < vocab_size() && model_->kind[id] != TokenizerModel::Kind::none,
                    "tokenizer ", model_->source, ": token id ", id,
                    " is not in the vocabulary (0..", vocab_size() - 1, ")");
  return model_->bytes[id];
}

std::optional<int32_t> Tokenizer::find_token(std::string_view token) const {
  auto it = model_->added_ids.find(std::string(token));
  if (it != model_->added_ids.end()) return it->second;
  return model_->bpe.find(token);
}

int32_t Tokenizer::token_id(std::string_view token) const {
  auto id = find_token(token);
  ACERL_USAGE_CHECK(id, "tokenizer ", model_->source, ": no token '", token, "' in the vocabulary");
  return *id;
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && model_->kind[id] == TokenizerModel::Kind::special;
}

int64_t Tokenizer::vocab_size() const { return static_cast<int64_t>(model_->kind.size()); }

const std::string& Tokenizer::source() const { return model_->source; }

}  // namespace acerl::tokenizer
