// Tokenizer: ids equal to HF `tokenizers` (run from the venv) on the real Qwen tokenizer and on
// GPT-2 built into tokenizer.json with both merge forms; decode round trips; added-token rules;
// thread safety; clear errors for malformed files.
#include "support/catch.h"

#include <fstream>
#include <functional>
#include <thread>

#include "rollout/rollout_setup.h"
#include "support/process.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/corpus.h"
#include "tokenizer/hf_reference.h"
#include "tokenizer/nfc.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

namespace {

std::vector<std::vector<int32_t>> encode_all(const tokenizer::Tokenizer& tok,
                                             const std::vector<std::string>& texts,
                                             bool parse_special = true) {
  std::vector<std::vector<int32_t>> out;
  for (const auto& t : texts) out.push_back(tok.encode(t, parse_special));
  return out;
}

// Compares our ids and decodes of `texts` with the reference library's.
void check_against_hf(const std::string& path, const std::vector<std::string>& texts) {
  const auto& tok = load_tokenizer(path);
  const auto ours = encode_all(tok, texts);
  const auto ours_plain = encode_all(tok, texts, false);
  json::Value request;
  request.set("encode", json_strings(texts));
  request.set("encode_plain", json_strings(texts));
  request.set("decode", json_ids(ours));
  request.set("decode_skip", json_ids(ours));
  request.set("nfc", json_strings(texts));
  const json::Value ref = hf_reference(path, request);
  for (size_t i = 0; i < texts.size(); ++i) {
    INFO(path << " text " << i << ": " << json::quote(texts[i]));
    CHECK(ours[i] == ids_of(ref.at("encode").as_array()[i]));
    CHECK(ours_plain[i] == ids_of(ref.at("encode_plain").as_array()[i]));
    CHECK(tok.decode(ours[i]) == ref.at("decode").as_array()[i].as_string());
    CHECK(tok.decode(ours[i], true) == ref.at("decode_skip").as_array()[i].as_string());
  }
}

}  // namespace

// The split of each pattern against the HF pre-tokenizer on the same (normalised) text: pieces,
// not only ids, so a wrong cut that BPE happens to mend still shows.
TEST_CASE("split patterns cut text into the same pieces as the HF pre-tokenizer", "[tokenizer]") {
  auto texts = tokenizer_corpus();
  std::string joined;  // long enough for several windows, cut anywhere a space allows
  for (const auto& t : random_utf8_texts(1000, 11)) {
    texts.push_back(t);
    joined += t;
  }
  texts.push_back(joined);
  // White space around the first window boundary (4096 characters).
  for (size_t k = 4090; k <= 4100; ++k)
    for (const char* tail : {"  b", "\n b", " \n b", "\t  b", "\u00a0 b", "' s", ".  \n\n  x"})
      texts.push_back(std::string(k, 'a') + tail + std::string(10, ' ') + "z");
  for (const auto& [path, pattern] :
       {std::make_pair(qwen_tokenizer_path(), tokenizer::SplitPattern::qwen2),
        std::make_pair(gpt2_tokenizer_path("gpt2_strings"), tokenizer::SplitPattern::gpt2)}) {
    json::Value request;
    request.set("pre_tokenize", json_strings(texts));
    const json::Value ref = hf_reference(path, request);
    for (size_t i = 0; i < texts.size(); ++i) {
      INFO(path << " text " << i << ": " << json::quote(texts[i]));
      std::string buffer;
      const std::string_view text = pattern == tokenizer::SplitPattern::qwen2
                                        ? tokenizer::nfc(texts[i], buffer)
                                        : std::string_view(texts[i]);
      std::vector<std::string_view> pieces;
      tokenizer::split(pattern, text, pieces);
      std::vector<std::string> ours, expected;
      for (auto p : pieces) ours.push_back(tokenizer::byte_level_encode(p));
      for (const auto& p : ref.at("pre_tokenize").as_array()[i].as_array())
        expected.push_back(p.as_string());
      CHECK(ours == expected);
    }
  }
}

TEST_CASE("Qwen tokenizer: ids and decodes equal HF tokenizers on a varied corpus", "[tokenizer]") {
  check_against_hf(qwen_tokenizer_path(), tokenizer_corpus());
}

TEST_CASE("GPT-2 tokenizer.json: both merge forms and the Split forms equal HF tokenizers",
          "[tokenizer]") {
  for (const char* variant : {"gpt2_pairs", "gpt2_strings", "gpt2_split", "gpt2_nested"}) {
    SECTION(variant) { check_against_hf(gpt2_tokenizer_path(variant), tokenizer_corpus()); }
  }
  // The two merge forms load to the same model.
  const auto corpus = tokenizer_corpus();
  CHECK(encode_all(load_tokenizer(gpt2_tokenizer_path("gpt2_pairs")), corpus) ==
        encode_all(load_tokenizer(gpt2_tokenizer_path("gpt2_strings")), corpus));
}

TEST_CASE("added tokens honour lstrip, rstrip, single_word and normalized like HF", "[tokenizer]") {
  const std::vector<std::string> texts = {
      "Hi <mask> there",
      "Hi <mask>there",
      "Hi<mask> there",
      "a <mask>\t<mask>\t <mask>\u2000 end",
      "x\u0301<mask> y",
      "\u00e9<mask>",
      "cafe\u0301 and caf\u00e9",
      "my cafe\u0301s",
      "two words and two  words",
      "ends with [SEP]   and [SEP]x",
      "[SEP]",
      "\u0120Hi and Hi and  Hi",
      "<|endoftext|> <mask>",
      "<mask><mask>",
      "",
  };
  check_against_hf(gpt2_tokenizer_path("gpt2_added"), texts);
}

TEST_CASE("random UTF-8 text: ids equal HF and decode(encode(x)) == NFC(x)", "[tokenizer]") {
  const auto texts = random_utf8_texts(400, 20240601);
  for (const std::string& path : {qwen_tokenizer_path(), gpt2_tokenizer_path("gpt2_strings")}) {
    const auto& tok = load_tokenizer(path);
    const auto ours = encode_all(tok, texts);
    json::Value request;
    request.set("encode", json_strings(texts));
    request.set("nfc", json_strings(texts));
    const json::Value ref = hf_reference(path, request);
    const bool nfc = path == qwen_tokenizer_path();  // GPT-2 has no normalizer
    for (size_t i = 0; i < texts.size(); ++i) {
      INFO(path << " text " << i << ": " << json::quote(texts[i]));
      CHECK(ours[i] == ids_of(ref.at("encode").as_array()[i]));
      CHECK(tok.decode(ours[i]) == (nfc ? ref.at("nfc").as_array()[i].as_string() : texts[i]));
    }
  }
}

TEST_CASE("decoding a character split across tokens gives U+FFFD like HF", "[tokenizer]") {
  const auto& tok = load_tokenizer(qwen_tokenizer_path());
  const auto ids =
      tok.encode("\U0001F468\u200d\U0001F469\u200d\U0001F467 \u4eca\u5929 \u00e9t\u00e9");
  std::vector<std::vector<int32_t>> prefixes, singles;
  for (size_t n = 0; n <= ids.size(); ++n) prefixes.emplace_back(ids.begin(), ids.begin() + n);
  for (int32_t id : ids) singles.push_back({id});
  json::Value request;
  std::vector<std::vector<int32_t>> all = prefixes;
  all.insert(all.end(), singles.begin(), singles.end());
  request.set("decode", json_ids(all));
  const json::Value ref = hf_reference(qwen_tokenizer_path(), request);
  for (size_t i = 0; i < all.size(); ++i) {
    INFO("ids " << json::dump(json_ids({all[i]})));
    CHECK(tok.decode(all[i]) == ref.at("decode").as_array()[i].as_string());
  }
  // The raw bytes of the tokens concatenate to the text exactly.
  std::string bytes;
  for (int32_t id : ids) bytes += tok.token_bytes(id);
  CHECK(bytes == tok.decode(ids));
}

TEST_CASE("vocabulary lookups agree with HF", "[tokenizer]") {
  const auto& tok = load_tokenizer(qwen_tokenizer_path());
  json::Value request;
  request.set("vocab_size", json_strings({""}));
  const std::vector<std::string> names = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>",
                                          "</think>"};
  request.set("encode", json_strings(names));
  const json::Value ref = hf_reference(qwen_tokenizer_path(), request);
  CHECK(tok.vocab_size() == ref.at("vocab_size").as_array()[0].as_int());
  for (size_t i = 0; i < names.size(); ++i) {
    const auto expected = ids_of(ref.at("encode").as_array()[i]);
    REQUIRE(expected.size() == 1);
    CHECK(tok.token_id(names[i]) == expected[0]);
    CHECK(tok.decode({expected[0]}) == names[i]);
  }
  CHECK(tok.is_special(tok.token_id("<|im_end|>")));
  CHECK_FALSE(tok.is_special(tok.token_id("<think>")));  // Qwen3 marks it non-special
  CHECK(tok.decode({tok.token_id("<|im_end|>"), tok.token_id("<think>")}, true) == "<think>");
  CHECK(tok.token_id("\u0120the") == tok.encode(" the").at(0));  // a model entry (Ġthe)
  CHECK_FALSE(tok.find_token("<|no_such_token|>"));
  CHECK_THROWS_WITH(tok.token_id("<|no_such_token|>"), Contains("<|no_such_token|>"));
  CHECK_THROWS_WITH(tok.decode({-1}), Contains("token id -1"));
  CHECK_THROWS_WITH(tok.decode({static_cast<int32_t>(tok.vocab_size())}),
                    Contains("not in the vocabulary"));
}

TEST_CASE("encode rejects ill-formed UTF-8 naming the byte offset", "[tokenizer]") {
  const auto& tok = load_tokenizer(qwen_tokenizer_path());
  CHECK(tok.encode("").empty());
  const std::vector<std::string> bad_texts = {"ab\xff", "ab\xc3", "ab\xed\xa0\x80", "ab\xc0\xaf",
                                              "ab\x80"};
  for (const std::string& bad : bad_texts) {
    INFO(json::quote(bad.substr(2)));
    CHECK_THROWS_WITH(tok.encode(bad), Contains("not valid UTF-8") && Contains("offset 2"));
  }
}

TEST_CASE("encode gives the same ids from several threads at once", "[tokenizer]") {
  // A fresh instance, so the threads race on filling the piece cache too.
  const auto tok = tokenizer::Tokenizer::from_file(qwen_tokenizer_path());
  auto texts = tokenizer_corpus();
  for (const auto& t : random_utf8_texts(200, 7)) texts.push_back(t);
  const auto reference = encode_all(load_tokenizer(qwen_tokenizer_path()), texts);
  std::vector<std::vector<std::vector<int32_t>>> results(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < results.size(); ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) results[t] = encode_all(tok, texts);
    });
  for (auto& th : threads) th.join();
  for (const auto& r : results) CHECK(r == reference);
}

TEST_CASE("malformed tokenizer.json files give errors naming the file and the problem",
          "[tokenizer]") {
  const std::string dir = scratch_dir("tokenizer_errors");
  // A valid file (GPT-2) broken one part at a time.
  const std::string path = gpt2_tokenizer_path("gpt2_strings");
  std::ifstream in(path);
  std::string good((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const json::Value doc = json::parse(good, path);
  auto write_variant = [&](const std::string& name, auto edit) {
    json::Value d = doc;
    edit(d);
    const std::string file = dir + "/" + name + ".json";
    std::ofstream(file, std::ios::binary) << json::dump(d);
    return file;
  };
  auto member = [](json::Value& d, const std::string& name) -> json::Value& {
    for (auto& [key, value] : d.as_object())
      if (key == name) return value;
    throw std::logic_error("no member " + name);
  };
  auto model = [&](json::Value& d) -> json::Value& { return member(d, "model"); };
  auto added = [](const std::string& content, int64_t id) {
    json::Value t;
    t.set("id", id);
    t.set("content", content);
    t.set("single_word", false);
    t.set("lstrip", false);
    t.set("rstrip", false);
    t.set("normalized", false);
    t.set("special", true);
    return t;
  };
  struct Case {
    std::string name, expect;
    std::function<void(json::Value&)> edit;
  };
  const std::vector<Case> cases = {
      {"wordpiece", "unsupported model type 'WordPiece'",
       [&](json::Value& d) { model(d).set("type", "WordPiece"); }},
      {"no_merges", "model.merges is missing",
       [&](json::Value& d) {
         json::Object kept;
         for (auto& kv : model(d).as_object())
           if (kv.first != "merges") kept.push_back(kv);
         model(d) = json::Value(kept);
       }},
      {"bad_merge", "model.merges[1]",
       [&](json::Value& d) { member(model(d), "merges").as_array()[1] = "abc"; }},
      {"unknown_merge", "is not in the vocabulary",
       [&](json::Value& d) {
         member(model(d), "merges").as_array()[0] = "\xe2\x82\xac \xe2\x82\xac";
       }},
      {"pattern", "unsupported pre-tokenizer split pattern \\w+|\\s+",
       [&](json::Value& d) {
         json::Value split;
         split.set("type", "Split");
         json::Value pattern;
         pattern.set("Regex", "\\w+|\\s+");
         split.set("pattern", pattern);
         split.set("behavior", "Isolated");
         split.set("invert", false);
         json::Value seq;
         seq.set("type", "Sequence");
         seq.set("pretokenizers", json::Array{split, d.at("pre_tokenizer")});
         d.set("pre_tokenizer", seq);
       }},
      {"normalizer", "unsupported normalizer type 'Lowercase'",
       [&](json::Value& d) {
         json::Value n;
         n.set("type", "Lowercase");
         d.set("normalizer", n);
       }},
      {"no_byte_level", "no ByteLevel step", [&](json::Value& d) { d.set("pre_tokenizer", {}); }},
      // One huge id must be refused before anything is allocated by id.
      {"huge_id", "has id 2000000000; the 50257 entries must have the ids 0 .. 50256",
       [&](json::Value& d) { member(model(d), "vocab").set("!", int64_t(2000000000)); }},
      {"shared_id", "share the id 0 (each id must name one token)",
       [&](json::Value& d) { member(model(d), "vocab").set("\"", int64_t(0)); }},
      // An added token on an id the vocabulary gives to another token (every '&' would decode
      // as <|im_end|>), two added tokens on one id, and an id past the vocabulary's end that
      // leaves unused ids in between.
      {"added_collision",
       "added token '<|im_end|>' has id 5, which the model's vocabulary gives "
       "to '&'",
       [&](json::Value& d) {
         member(d, "added_tokens").as_array().push_back(added("<|im_end|>", 5));
       }},
      {"added_shared", "added tokens '<|a|>' and '<|b|>' share id 50257",
       [&](json::Value& d) {
         member(d, "added_tokens").as_array().push_back(added("<|a|>", 50257));
         member(d, "added_tokens").as_array().push_back(added("<|b|>", 50257));
       }},
      {"added_gap", "no token has id 50257 (the next added token, '<|gap|>', has id 50300)",
       [&](json::Value& d) {
         member(d, "added_tokens").as_array().push_back(added("<|gap|>", 50300));
       }},
      {"other_pre_tokenizer", "unsupported pre-tokenizer type 'Whitespace'",
       [&](json::Value& d) {
         json::Value p;
         p.set("type", "Whitespace");
         d.set("pre_tokenizer", p);
       }},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string file = write_variant(c.name, c.edit);
    CHECK_THROWS_WITH(tokenizer::Tokenizer::from_file(file), Contains(file) && Contains(c.expect));
  }
  CHECK_THROWS_WITH(tokenizer::Tokenizer::from_file(dir + "/missing.json"),
                    Contains(dir + "/missing.json"));
  // Invalid UTF-8 inside the file: named with its line, never accepted.
  const std::string bad_utf8 = dir + "/bad_utf8.json";
  {
    std::string text = good;
    text.insert(text.find("\"model\""), "\"x\": \"\xc3\x28\",\n");
    std::ofstream(bad_utf8, std::ios::binary) << text;
  }
  CHECK_THROWS_WITH(tokenizer::Tokenizer::from_file(bad_utf8),
                    Contains(bad_utf8 + ":") && Contains(": invalid UTF-8 at byte"));
  const std::string broken = dir + "/broken.json";
  std::ofstream(broken) << "{\"model\": {\"type\": \"BPE\",";
  CHECK_THROWS_WITH(tokenizer::Tokenizer::from_file(broken), Contains(broken + ":1:"));
}

TEST_CASE("rollout.stop ids must lie inside the tokenizer's vocabulary", "[tokenizer]") {
  const auto tok = tokenizer::Tokenizer::from_file(gpt2_tokenizer_path("gpt2_strings"));
  const int64_t n = tok.vocab_size();
  CHECK(rollout::stop_token_ids("0, " + std::to_string(n - 1), tok) ==
        std::vector<int64_t>{0, n - 1});
  CHECK_THROWS_WITH(
      rollout::stop_token_ids("999999", tok),
      Contains("rollout.stop: id 999999 is outside the tokenizer's " + std::to_string(n) + " ids"));
  CHECK_THROWS_WITH(rollout::stop_token_ids(std::string(100, '9'), tok),
                    Contains("rollout.stop: id 9999"));
}
