// acerl_bench_tokenizer: encoding speed (MB/s, one thread) of the Qwen tokenizer on >= 1 MiB of
// English text (package descriptions and licence texts from the venv's site-packages, built by
// tokenizer_hf.py), against HF `tokenizers` on the same text, single-threaded. Also checks that
// both give the same ids and times loading tokenizer.json.
//   acerl_bench_tokenizer [TOKENIZER.json]   (default: the project's shared Qwen tokenizer)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.h"
#include "io/json.h"
#include "tokenizer/tokenizer.h"

using namespace acerl;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t start = 0;;) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return lines;
    start = end + 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string source = ACERL_SOURCE_DIR;
  const std::string path =
      argc > 1 ? argv[1] : source + "/../shared/data/qwen-tokenizer/tokenizer.json";
  const std::string script = source + "/tests/bench/tokenizer_hf.py";
  const std::string text_path = "tokenizer_bench.txt", ids_path = "tokenizer_bench_hf_ids.bin";
  const std::string made = bench::run_python(script, "corpus " + text_path);
  if (made.empty()) {
    std::fprintf(stderr, "could not build the benchmark text with %s\n", script.c_str());
    return 1;
  }
  const std::string text = slurp(text_path);
  const double mb = text.size() / 1e6;
  std::printf("text: %.2f MB of English (%s)\n", mb, made.substr(0, made.find('\n')).c_str());

  auto start = std::chrono::steady_clock::now();
  auto tok = tokenizer::Tokenizer::from_file(path);
  std::printf("load %s: %.2f s\n", path.c_str(), seconds_since(start));

  start = std::chrono::steady_clock::now();
  std::vector<int32_t> ids = tok.encode(text);  // cold: empty piece cache
  const double cold = seconds_since(start);
  const double document = bench::median_seconds([&] { ids = tok.encode(text); }, 3, 0);
  const auto lines = lines_of(text);
  const double per_line = bench::median_seconds(
      [&] {
        for (auto line : lines) tok.encode(line);
      },
      3, 0);

  const std::string hf =
      bench::run_python(script, "bench " + path + " " + text_path + " " + ids_path);
  if (hf.empty()) {
    std::fprintf(stderr, "the HF tokenizers benchmark failed\n");
    return 1;
  }
  const json::Value r = json::parse(hf, "tokenizer_hf.py");
  const std::string hf_ids = slurp(ids_path);
  const bool same =
      hf_ids.size() == ids.size() * sizeof(int32_t) &&
      std::equal(ids.begin(), ids.end(), reinterpret_cast<const int32_t*>(hf_ids.data()));
  std::printf("%zu tokens; ids equal to HF tokenizers: %s\n", ids.size(), same ? "yes" : "NO");
  std::printf("%-34s %12s %12s %8s\n", "encode, one thread (MB/s)", "acerl", "HF", "ratio");
  auto row = [&](const char* what, double ours, double theirs) {
    std::printf("%-34s %12.2f %12.2f %8.1f\n", what, mb / ours, mb / theirs, theirs / ours);
  };
  row("whole text, first pass (cold)", cold, r.at("document_first_s").as_number());
  row("whole text, warm", document, r.at("document_s").as_number());
  row("one call per line, warm", per_line, r.at("lines_s").as_number());
  return same ? 0 : 1;
}
