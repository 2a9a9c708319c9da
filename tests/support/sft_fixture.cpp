// Synthetic SFT problem for tests; see sft_fixture.h.
#include "support/sft_fixture.h"

#include "support/catch.h"

#include <fstream>
#include <random>

#include "config/sections.h"
#include "io/json.h"
#include "support/process.h"

namespace acerl::test {
namespace {

// "Is the number 47 even or odd?" with a short worked solution: the answer needs the prompt's
// last digit, so a model that learns it reads the prompt rather than guessing a constant.
void write_examples(const std::string& path, std::ofstream& corpus, std::mt19937& rng, int n,
                    bool with_response) {
  std::ofstream out(path);
  std::uniform_int_distribution<int> number(10, 99);
  for (int i = 0; i < n; ++i) {
    const int x = number(rng);
    const std::string parity = x % 2 == 0 ? "even" : "odd";
    const std::string prompt = "Is the number " + std::to_string(x) + " even or odd?";
    const std::string response = "<think>\nThe last digit of " + std::to_string(x) + " is " +
                                 std::to_string(x % 10) + ", so " + std::to_string(x) + " is " +
                                 parity + ".\n</think>\n\\boxed{" + parity + "}";
    json::Value v;
    v.set("id", "q" + std::to_string(i));
    v.set("type", "math");
    v.set("prompt", prompt);
    if (with_response) v.set("response", response);
    v.set("answer", parity);
    out << json::dump(v) << "\n";
    corpus << prompt << "\n" << response << "\n";
  }
}

}  // namespace

SftFixture make_sft_fixture(const std::string& name, int train, const std::string& extra_ini) {
  SftFixture f;
  f.dir = scratch_dir(name);
  f.ini = f.dir + "/sft.ini";
  f.tokenizer = f.dir + "/tokenizer.json";
  f.eval = f.dir + "/eval.jsonl";
  std::mt19937 rng(17);
  {
    std::ofstream corpus(f.dir + "/corpus.txt");
    // The chat template's fixed texts, so that prompts tokenize as compactly as the task text.
    const config::ChatConfig chat;
    for (int i = 0; i < 50; ++i) corpus << chat.system << "\n" << chat.math_instruction << "\n";
    write_examples(f.dir + "/train.jsonl", corpus, rng, train, true);
    write_examples(f.dir + "/eval_sft.jsonl", corpus, rng, 24, true);
  }
  std::mt19937 eval_rng(99);
  std::ofstream unused(f.dir + "/unused.txt");
  write_examples(f.eval, unused, eval_rng, 40, false);
  auto py = run_python(quote(source_path("tools/make_tokenizer.py")) + " " + quote(f.tokenizer) +
                       " 300 " + quote(f.dir + "/corpus.txt"));
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  std::ofstream(f.dir + "/model.json")
      << R"({"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,)"
      << R"( "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 320, "rope_theta": 10000.0,)"
      << R"( "max_position_embeddings": 512})";
  std::ofstream(f.dir + "/model_medium.json")
      << R"({"model_type": "qwen2", "hidden_size": 128, "intermediate_size": 256, "num_hidden_layers": 4,)"
      << R"( "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 320, "rope_theta": 10000.0,)"
      << R"( "max_position_embeddings": 512})";
  std::ofstream(f.ini)
      << "[run]\ndir = " << f.dir << "/run\nseed = 3\n"
      << "[model]\ninit = " << f.dir << "/model.json\nprecision = fp32\n"
      << "[tokenizer]\npath = " << f.tokenizer << "\n"
      << "[data]\npath = " << f.dir << "/train.jsonl\neval_path = " << f.dir << "/eval_sft.jsonl\n"
      << "[sft]\nseq_len = 256\nglobal_batch = 4\nepochs = 1\nlr = 3e-3\nwarmup_steps = 2\n"
      << "[log]\ninterval = 1\n"
      << extra_ini;
  return f;
}

}  // namespace acerl::test
