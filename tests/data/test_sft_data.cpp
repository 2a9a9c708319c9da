// SFT data: JSONL errors name file:line (or are skipped and counted), the scaling-study selection
// is deterministic and exact, and packed rows carry the right positions, document ids, targets
// and loss weights (checked element by element against the documents).
#include "support/catch.h"

#include <fstream>
#include <map>
#include <set>

#include "data/packing.h"
#include "data/sft_dataset.h"
#include "runtime/error.h"
#include "support/process.h"

using namespace acerl;
using Catch::Matchers::Contains;

namespace {

config::ChatConfig chat_config() { return config::ChatConfig{}; }

std::string write(const std::string& name, const std::string& text) {
  std::string path = test::scratch_dir("sft_data_" + name) + "/data.jsonl";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("malformed SFT lines name file and line, or are skipped and counted", "[data]") {
  tokenizer::ChatTemplate chat(chat_config());
  std::string path = write("bad",
                           "{\"prompt\": \"a\", \"response\": \"b\"}\n"
                           "\n"
                           "{\"prompt\": \"a\" \"response\": \"b\"}\n"
                           "{\"prompt\": 3, \"response\": \"b\"}\n"
                           "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}\n"
                           "[1, 2]\n"
                           "{\"prompt\": \"c\", \"response\": \"d\", \"type\": \"poetry\"}\n"
                           "{\"prompt\": \"e\", \"response\": \"f\"}\n");
  CHECK_THROWS_WITH(data::load_sft_examples(path, false, nullptr, chat),
                    Contains("data.jsonl:3") && Contains("invalid JSON"));
  data::SftLoadStats stats;
  auto examples = data::load_sft_examples(path, true, &stats, chat);
  CHECK(examples.size() == 2);
  CHECK(stats.records == 2);
  CHECK(stats.bad_lines == 5);
  std::string missing = write("missing", "{\"prompt\": \"a\"}\n");
  CHECK_THROWS_WITH(data::load_sft_examples(missing, false, nullptr, chat),
                    Contains("data.jsonl:1") && Contains("missing key \"response\""));
  std::string role = write("role", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n");
  CHECK_THROWS_WITH(data::load_sft_examples(role, false, nullptr, chat), Contains("role 'robot'"));
  CHECK_THROWS_WITH(data::load_sft_examples("/nonexistent/x.jsonl", false, nullptr, chat),
                    Contains("/nonexistent/x.jsonl"));
  // Invalid UTF-8 is the data file's fault, named by its line, and skipped like any bad line.
  std::string utf8 = write("utf8",
                           "{\"prompt\": \"a\", \"response\": \"b\"}\n"
                           "{\"prompt\": \"a\", \"response\": \"b\"}\n"
                           "{\"prompt\": \"\xff\xfe\", \"response\": \"b\"}\n");
  CHECK_THROWS_WITH(data::load_sft_examples(utf8, false, nullptr, chat),
                    Contains("data.jsonl:3: invalid UTF-8 at byte 13 of the line"));
  data::SftLoadStats utf8_stats;
  CHECK(data::load_sft_examples(utf8, true, &utf8_stats, chat).size() == 2);
  CHECK(utf8_stats.bad_lines == 1);
}

TEST_CASE("max_prompts and responses_per_prompt select deterministically", "[data]") {
  tokenizer::ChatTemplate chat(chat_config());
  std::string text;
  for (int p = 0; p < 10; ++p)
    for (int r = 0; r < 4; ++r)
      text += "{\"id\": \"p" + std::to_string(p) + "\", \"prompt\": \"q" + std::to_string(p) +
              "\", \"response\": \"r" + std::to_string(r) + "\"}\n";
  auto all = data::load_sft_examples(write("select", text), false, nullptr, chat);
  data::SftLoadStats stats;
  auto chosen = data::select_examples(all, 3, 2, 7, &stats);
  CHECK(stats.prompts == 3);
  CHECK(chosen.size() == 6);
  std::map<std::string, std::vector<std::string>> by_prompt;
  for (const auto& ex : chosen) by_prompt[ex.prompt_key].push_back(ex.messages.back().content);
  CHECK(by_prompt.size() == 3);
  for (const auto& [prompt, responses] : by_prompt)
    CHECK(responses == std::vector<std::string>{"r0", "r1"});
  auto again = data::select_examples(all, 3, 2, 7, nullptr);
  for (size_t i = 0; i < chosen.size(); ++i) CHECK(again[i].prompt_key == chosen[i].prompt_key);
  auto other_seed = data::select_examples(all, 3, 2, 8, nullptr);
  std::set<std::string> a, b;
  for (const auto& ex : chosen) a.insert(ex.prompt_key);
  for (const auto& ex : other_seed) b.insert(ex.prompt_key);
  CHECK(a != b);  // a different seed draws other prompts (10 choose 3 = 120 possibilities)
  CHECK(data::select_examples(all, 0, 0, 1, nullptr).size() == 40);
}

TEST_CASE("packing: every token of every document lands once with the right target and weight",
          "[data]") {
  std::vector<data::Document> docs;
  for (int d = 0; d < 23; ++d) {
    data::Document doc;
    const int n = 3 + (d * 7) % 11;
    for (int t = 0; t < n; ++t) {
      doc.ids.push_back(100 * d + t);
      doc.loss_mask.push_back(t >= n / 2 ? 1 : 0);
    }
    docs.push_back(doc);
  }
  const int64_t T = 24;
  auto plans = data::pack_epoch(docs, T, 3, 0);
  CHECK(plans != data::pack_epoch(docs, T, 3, 1));  // epochs reshuffle
  CHECK(plans == data::pack_epoch(docs, T, 3, 0));  // deterministic
  auto rows = data::materialize(plans, 0, static_cast<int64_t>(plans.size()) + 2, docs, T);
  std::multiset<int64_t> seen;
  double weight_total = 0;
  for (int64_t r = 0; r < rows.rows(); ++r) {
    for (int64_t t = 0; t < T; ++t) {
      const int64_t doc = rows.doc_ids[r][t].item<int64_t>();
      if (doc < 0) {
        CHECK(rows.weights[r][t].item<float>() == 0);
        continue;
      }
      const int64_t id = rows.ids[r][t].item<int64_t>(), d = id / 100, pos = id % 100;
      seen.insert(id);
      CHECK(rows.positions[r][t].item<int64_t>() == pos);
      const int64_t n = static_cast<int64_t>(docs[d].ids.size());
      if (pos + 1 < n) {
        CHECK(rows.targets[r][t].item<int64_t>() == id + 1);
        CHECK(rows.weights[r][t].item<float>() == docs[d].loss_mask[pos + 1]);
        CHECK(rows.doc_ids[r][t + 1].item<int64_t>() == doc);  // same document continues
      } else {
        CHECK(rows.weights[r][t].item<float>() == 0);  // no target across documents
      }
      weight_total += rows.weights[r][t].item<float>();
    }
  }
  int64_t tokens = 0, mask_total = 0;
  for (const auto& d : docs) {
    tokens += static_cast<int64_t>(d.ids.size());
    for (size_t t = 1; t < d.ids.size(); ++t) mask_total += d.loss_mask[t];
  }
  CHECK(static_cast<int64_t>(seen.size()) == tokens);
  CHECK(std::set<int64_t>(seen.begin(), seen.end()).size() == seen.size());
  CHECK(weight_total == mask_total);
  CHECK(data::steps_per_epoch(17, 8) == 3);
}
