// Chat template: rendered text and token ids against `transformers` apply_chat_template with the
// real Qwen tokenizer_config.json; the SFT loss mask covers exactly the assistant tokens; the
// [chat] section configures it from an INI file.
#include "support/catch.h"

#include <fstream>

#include "config/ini.h"
#include "config/schema.h"
#include "support/process.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/hf_reference.h"

using namespace acerl;
using namespace acerl::test;
using tokenizer::Message;

namespace {

// transformers' rendering (text and ids) of each conversation.
json::Value hf_render(const std::vector<std::vector<Message>>& conversations,
                      const std::vector<bool>& generation_prompt) {
  json::Array request;
  for (size_t i = 0; i < conversations.size(); ++i) {
    json::Array messages;
    for (const auto& m : conversations[i]) {
      json::Value v;
      v.set("role", m.role);
      v.set("content", m.content);
      messages.push_back(v);
    }
    json::Value item;
    item.set("messages", messages);
    item.set("add_generation_prompt", static_cast<bool>(generation_prompt[i]));
    request.push_back(item);
  }
  const std::string path = scratch_dir("hf_chat_template") + "/request.json";
  std::ofstream(path, std::ios::binary) << json::dump(json::Value(request));
  auto r = run_python(quote(source_path("tests/tokenizer/hf_chat_template.py")) + " " +
                      quote(tokenizer_data_dir() + "/qwen-tokenizer") + " " + quote(path));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return json::parse(r.out, "hf_chat_template.py output");
}

// The decoded runs of consecutive tokens whose mask is `value`.
std::vector<std::string> masked_runs(const tokenizer::Tokenizer& tok,
                                     const tokenizer::MaskedTokens& t, uint8_t value) {
  std::vector<std::string> runs;
  for (size_t i = 0; i < t.ids.size();) {
    if (t.loss_mask[i] != value) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < t.ids.size() && t.loss_mask[j] == value) ++j;
    runs.push_back(tok.decode(t.ids.data() + i, j - i));
    i = j;
  }
  return runs;
}

}  // namespace

TEST_CASE("chat template renders like transformers with the Qwen chat template", "[tokenizer]") {
  const auto& tok = load_tokenizer(qwen_tokenizer_path());
  config::ChatConfig config;
  const tokenizer::ChatTemplate chat(config);
  config::ChatConfig no_system = config;
  no_system.use_system = false;
  const tokenizer::ChatTemplate bare(no_system);
  const std::string& think = config.think_prefix;
  const std::string question = "Find the sum of all integers $n$ with $n^2 < 10$.";
  const std::string math_user = chat.user_content(question, tokenizer::TaskKind::math);
  const std::string reasoning =
      "The integers are -3, ..., 3.\nTheir sum is 0.\n</think>\n\nThe "
      "answer is $\\boxed{0}$.";

  // Our conversations and what transformers is given for each: the system turn written out,
  // and the think prefix inside the assistant content (the Qwen template has no such notion).
  const Message system{"system", config.system};
  const std::vector<std::vector<Message>> ours = {
      {{"user", math_user}},
      {{"user", "Hello!"}},
      {{"user", math_user}, {"assistant", reasoning}},
      {{"user", "Hi"},
       {"assistant", "Hello, how can I help?"},
       {"user", math_user},
       {"assistant", reasoning}},
  };
  const std::vector<std::vector<Message>> theirs = {
      {system, {"user", math_user}},
      {{"user", "Hello!"}},
      {system, {"user", math_user}, {"assistant", think + reasoning}},
      {system,
       {"user", "Hi"},
       {"assistant", "Hello, how can I help?"},
       {"user", math_user},
       {"assistant", think + reasoning}},
  };
  const std::vector<bool> generation = {true, true, false, false};
  const json::Value ref = hf_render(theirs, generation);

  // 0: the generation prompt of a math question: HF's text, then the think prefix.
  const auto& r0 = ref.as_array()[0];
  CHECK(chat.prompt(question, tokenizer::TaskKind::math) == r0.at("text").as_string() + think);
  CHECK(chat.render(ours[0], true) == r0.at("text").as_string() + think);
  // 1: no system turn when disabled.
  const auto& r1 = ref.as_array()[1];
  CHECK(bare.render(ours[1], true) == r1.at("text").as_string() + think);
  // 2, 3: full SFT conversations, single and multi-turn.
  for (size_t i = 2; i < ours.size(); ++i) {
    INFO("conversation " << i);
    const auto& r = ref.as_array()[i];
    CHECK(chat.render(ours[i], false) == r.at("text").as_string());
    const auto t = chat.encode_conversation(tok, ours[i]);
    // The response starts after "<think>\n" with a letter: the same ids as one encode of the text.
    CHECK(t.ids == ids_of(r.at("ids")));
    CHECK(tok.decode(t.ids) == r.at("text").as_string());
  }
  // The prompt's ids are the ids of its text (the prefix of the conversation's).
  const auto prompt_ids = chat.encode_prompt(tok, question, tokenizer::TaskKind::math);
  CHECK(prompt_ids == tok.encode(r0.at("text").as_string() + think));
  const auto example = chat.encode_example(tok, question, tokenizer::TaskKind::math, reasoning);
  REQUIRE(example.ids.size() > prompt_ids.size());
  CHECK(std::vector<int32_t>(example.ids.begin(), example.ids.begin() + prompt_ids.size()) ==
        prompt_ids);
}

TEST_CASE("SFT loss mask is 1 exactly on the assistant contents and their <|im_end|>",
          "[tokenizer]") {
  const auto& tok = load_tokenizer(qwen_tokenizer_path());
  const tokenizer::ChatTemplate chat{config::ChatConfig{}};
  const std::vector<Message> conversation = {
      {"user", "Hi"},
      {"assistant", "Hello! How can I help?"},
      {"user", "Compute 2+2."},
      // Starts with white space and repeats the think prefix: neither may leak across the mask.
      {"assistant", "<think>\n\n  Two plus two.\n</think>\n\n$\\boxed{4}$"},
  };
  const auto t = chat.encode_conversation(tok, conversation);
  REQUIRE(t.ids.size() == t.loss_mask.size());
  CHECK(tok.decode(t.ids) == chat.render(conversation, false));
  const std::vector<std::string> trained = {
      "Hello! How can I help?<|im_end|>",
      "\n  Two plus two.\n</think>\n\n$\\boxed{4}$<|im_end|>",  // the think prefix is prompt
  };
  CHECK(masked_runs(tok, t, 1) == trained);
  const std::vector<std::string> context = masked_runs(tok, t, 0);
  REQUIRE(context.size() == 3);
  CHECK(context[1] ==
        "\n<|im_start|>user\nCompute 2+2.<|im_end|>\n<|im_start|>assistant\n<think>\n");
  CHECK(context[2] == "\n");  // after the last <|im_end|>
  CHECK(t.loss_mask.back() == 0);
  CHECK(t.ids[t.ids.size() - 2] == tok.token_id("<|im_end|>"));

  CHECK_THROWS_WITH(chat.encode_conversation(tok, {{"user", "no answer"}}),
                    Catch::Matchers::Contains("must end with an assistant message"));
  CHECK_THROWS_WITH(
      tokenizer::parse_task_kind("poetry", "data.jsonl:3 task"),
      Catch::Matchers::Contains("data.jsonl:3 task") && Catch::Matchers::Contains("'poetry'"));
}

TEST_CASE("the [chat] section configures the template", "[tokenizer]") {
  config::ChatConfig c;
  config::TokenizerConfig t;
  config::Schema schema;
  config::describe_tokenizer(schema, t);
  config::describe_chat(schema, c);
  const auto entries = config::parse_ini_text(
      "[tokenizer]\npath = /models/qwen/tokenizer.json\n"
      "[chat]\nuse_system = false\nmath_instruction = \"Answer in \\\\boxed{}.\"\n"
      "code_instruction = \"\"\nthink_prefix = \"<think>\\n\\n\"\n",
      "chat.ini");
  schema.load(entries);
  CHECK(t.path == "/models/qwen/tokenizer.json");
  CHECK_FALSE(c.use_system);
  CHECK(c.math_instruction == "Answer in \\boxed{}.");
  const tokenizer::ChatTemplate chat(c);
  CHECK(chat.prompt("1+1?", tokenizer::TaskKind::math) ==
        "<|im_start|>user\n1+1?\n\nAnswer in "
        "\\boxed{}.<|im_end|>\n<|im_start|>assistant\n<think>\n\n");
  CHECK(chat.user_content("Sort a list.", tokenizer::TaskKind::code) == "Sort a list.");
  CHECK(chat.user_content("Say hi.", tokenizer::TaskKind::plain) == "Say hi.");
}
