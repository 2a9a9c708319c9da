// Reference helpers of the tokenizer tests; see hf_reference.h.
#include "tokenizer/hf_reference.h"

#include "support/catch.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <filesystem>
#include <mutex>

#include "support/process.h"

namespace acerl::test {

// The real tokenizer files live in the project's shared data next to the checkout (or at
// /work/shared/data, where the build machines keep it for clones made elsewhere);
// $ACERL_TOKENIZER_DATA points elsewhere.
std::string tokenizer_data_dir() {
  if (const char* env = std::getenv("ACERL_TOKENIZER_DATA")) return env;
  for (const std::string& dir : {source_path("../shared/data"), std::string("/work/shared/data")})
    if (std::filesystem::exists(dir + "/qwen-tokenizer/tokenizer.json")) return dir;
  return source_path("../shared/data");
}

std::string qwen_tokenizer_path() {
  return tokenizer_data_dir() + "/qwen-tokenizer/tokenizer.json";
}

std::string gpt2_tokenizer_path(const std::string& variant) {
  static const std::string dir = [] {
    std::string d = scratch_dir("gpt2_tokenizers");
    auto r = run_python(quote(source_path("tests/tokenizer/make_gpt2_tokenizer.py")) + " " +
                        quote(tokenizer_data_dir() + "/gpt2-bpe") + " " + quote(d));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return d;
  }();
  return dir + "/" + variant + ".json";
}

const tokenizer::Tokenizer& load_tokenizer(const std::string& path) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<tokenizer::Tokenizer>> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = loaded[path];
  if (!slot) slot = std::make_unique<tokenizer::Tokenizer>(tokenizer::Tokenizer::from_file(path));
  return *slot;
}

json::Value hf_reference(const std::string& tokenizer_path, const json::Value& request) {
  static int counter = 0;
  const std::string path =
      scratch_dir("hf_reference_" + std::to_string(counter++)) + "/request.json";
  std::ofstream(path, std::ios::binary) << json::dump(request);
  auto r = run_python(quote(source_path("tests/tokenizer/hf_tokenizer_ref.py")) + " " +
                      quote(tokenizer_path) + " " + quote(path));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out, "hf_tokenizer_ref.py output");
}

json::Value json_strings(const std::vector<std::string>& texts) {
  json::Array a;
  for (const auto& t : texts) a.emplace_back(t);
  return json::Value(std::move(a));
}

json::Value json_ids(const std::vector<std::vector<int32_t>>& ids) {
  json::Array a;
  for (const auto& list : ids) {
    json::Array inner;
    for (int32_t id : list) inner.emplace_back(static_cast<int64_t>(id));
    a.emplace_back(std::move(inner));
  }
  return json::Value(std::move(a));
}

std::vector<int32_t> ids_of(const json::Value& array) {
  std::vector<int32_t> ids;
  for (const auto& v : array.as_array()) ids.push_back(static_cast<int32_t>(v.as_int()));
  return ids;
}

}  // namespace acerl::test
