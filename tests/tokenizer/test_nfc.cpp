// NFC: our normaliser against Python's unicodedata on every character with a canonical
// decomposition, every primary composite's parts, Hangul, and shuffled combining-mark runs.
#include "support/catch.h"

#include <random>

#include "tokenizer/hf_reference.h"
#include "tokenizer/nfc.h"
#include "tokenizer/unicode.h"
#include "tokenizer/unicode_tables.h"

using namespace acerl;
using namespace acerl::test;
namespace uc = acerl::tokenizer::unicode;
namespace tables = acerl::tokenizer::tables;

TEST_CASE("NFC equals Python unicodedata on decompositions, compositions and mark runs",
          "[tokenizer]") {
  std::mt19937_64 rng(99);
  const uint32_t marks[] = {0x300, 0x301, 0x302,  0x303,  0x308,  0x30A, 0x323, 0x327, 0x328,
                            0x331, 0x345, 0x1DC0, 0x20D0, 0x3099, 0x93C, 0x9BE, 0x9D7};
  std::vector<std::string> items;
  for (size_t i = 0; i < tables::kDecomposition_size; ++i) {
    const auto& d = tables::kDecomposition[i];
    std::string composed, decomposed;
    uc::append_utf8(composed, d.cp);
    for (uint32_t k = 0; k < d.length; ++k)
      uc::append_utf8(decomposed, tables::kDecompositionData[d.offset + k]);
    const int extra = static_cast<int>(rng() % 3);
    for (int k = 0; k < extra; ++k) uc::append_utf8(decomposed, marks[rng() % std::size(marks)]);
    items.push_back(composed);
    items.push_back(decomposed);
  }
  for (size_t i = 0; i < tables::kComposition_size; ++i) {
    std::string s;
    uc::append_utf8(s, tables::kComposition[i].first);
    uc::append_utf8(s, marks[rng() % std::size(marks)]);
    uc::append_utf8(s, tables::kComposition[i].second);
    items.push_back(s);
  }
  for (uint32_t s = 0xAC00; s <= 0xD7A3; s += 37) {
    std::string text;
    std::vector<uint32_t> jamo;
    uc::decompose(s, jamo);
    for (uint32_t j : jamo) uc::append_utf8(text, j);
    uc::append_utf8(text, 0x11A8 + static_cast<uint32_t>(rng() % 27));  // a trailing consonant
    items.push_back(text);
  }
  // Chunks of items per text keep the reference call small; a space never composes.
  std::vector<std::string> texts;
  for (size_t i = 0; i < items.size(); i += 40) {
    std::string text;
    for (size_t k = i; k < std::min(items.size(), i + 40); ++k) text += items[k] + " ";
    texts.push_back(text);
  }
  json::Value request;
  request.set("nfc", json_strings(texts));
  const json::Value ref = hf_reference(qwen_tokenizer_path(), request);
  for (size_t i = 0; i < texts.size(); ++i) {
    INFO("text " << i << ": " << json::quote(texts[i]));
    std::string buffer;
    CHECK(std::string(tokenizer::nfc(texts[i], buffer)) == ref.at("nfc").as_array()[i].as_string());
  }
}

TEST_CASE("NFC leaves text without unsafe characters untouched", "[tokenizer]") {
  std::string buffer;
  const std::string text = "plain ASCII, caf\u00e9, \u4eca\u5929, \uac00";
  const std::string_view out = tokenizer::nfc(text, buffer);
  CHECK(out.data() == text.data());  // the quick check answered: no copy
  CHECK(std::string(tokenizer::nfc("e\u0301", buffer)) == "\u00e9");
  CHECK(std::string(tokenizer::nfc("\u1100\u1161\u11a8", buffer)) == "\uac01");
}
