// The Qwen2.5 chat format with the reasoning prompt; see chat_template.h.
#include "tokenizer/chat_template.h"

#include "runtime/error.h"

namespace acerl::tokenizer {
namespace {

const char* const kStart = "<|im_start|>";
const char* const kEnd = "<|im_end|>";

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

TaskKind parse_task_kind(const std::string& name, const std::string& what) {
  if (name == "math") return TaskKind::math;
  if (name == "code") return TaskKind::code;
  if (name == "plain") return TaskKind::plain;
  throw UsageError(str(what, ": unknown task kind '", name, "' (valid: math, code, plain)"));
}

std::string ChatTemplate::user_content(const std::string& question, TaskKind kind) const {
  const std::string& instruction = kind == TaskKind::math   ? config_.math_instruction
                                   : kind == TaskKind::code ? config_.code_instruction
                                                            : std::string();
  return instruction.empty() ? question : question + "\n\n" + instruction;
}

std::vector<Message> ChatTemplate::with_system(const std::vector<Message>& messages) const {
  std::vector<Message> out;
  if (config_.use_system && (messages.empty() || messages.front().role != "system"))
    out.push_back({"system", config_.system});
  out.insert(out.end(), messages.begin(), messages.end());
  return out;
}

std::string ChatTemplate::render(const std::vector<Message>& messages,
                                 bool add_generation_prompt) const {
  const std::vector<Message> all = with_system(messages);
  std::string text;
  for (size_t i = 0; i < all.size(); ++i) {
    const Message& m = all[i];
    text += kStart + m.role + "\n";
    const bool opened = m.role == "assistant" && i + 1 == all.size();
    if (opened && !starts_with(m.content, config_.think_prefix)) text += config_.think_prefix;
    text += m.content + kEnd + "\n";
  }
  if (add_generation_prompt) text += std::string(kStart) + "assistant\n" + config_.think_prefix;
  return text;
}

std::string ChatTemplate::prompt(const std::string& question, TaskKind kind) const {
  return render({{"user", user_content(question, kind)}}, true);
}

std::vector<int32_t> ChatTemplate::encode_prompt(const Tokenizer& tokenizer,
                                                 const std::string& question, TaskKind kind) const {
  return tokenizer.encode(prompt(question, kind));
}

MaskedTokens ChatTemplate::encode_conversation(const Tokenizer& tokenizer,
                                               const std::vector<Message>& messages) const {
  ACERL_USAGE_CHECK(!messages.empty() && messages.back().role == "assistant",
                    "chat template: an SFT conversation must end with an assistant message");
  const std::vector<Message> all = with_system(messages);
  const int32_t end_id = tokenizer.token_id(kEnd);
  MaskedTokens out;
  auto append = [&](const std::string& text, uint8_t mask) {
    const size_t before = out.ids.size();
    tokenizer.encode_into(text, out.ids);
    out.loss_mask.resize(out.ids.size(), 0);
    std::fill(out.loss_mask.begin() + before, out.loss_mask.end(), mask);
  };
  std::string context;  // template and non-assistant text not yet encoded
  for (size_t i = 0; i < all.size(); ++i) {
    const Message& m = all[i];
    context += kStart + m.role + "\n";
    if (m.role != "assistant") {
      context += m.content + kEnd + "\n";
      continue;
    }
    std::string content = m.content;
    if (i + 1 == all.size()) {
      // The think prefix is prompt, not response: generation starts after it.
      if (starts_with(content, config_.think_prefix)) content.erase(0, config_.think_prefix.size());
      context += config_.think_prefix;
    }
    append(context, 0);
    append(content, 1);
    out.ids.push_back(end_id);
    out.loss_mask.push_back(1);
    context = "\n";
  }
  append(context, 0);
  return out;
}

MaskedTokens ChatTemplate::encode_example(const Tokenizer& tokenizer, const std::string& question,
                                          TaskKind kind, const std::string& response) const {
  return encode_conversation(tokenizer,
                             {{"user", user_content(question, kind)}, {"assistant", response}});
}

}  // namespace acerl::tokenizer
