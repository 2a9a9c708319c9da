// defines: ChatTemplate, the Qwen2.5 chat format with the recipe's reasoning prompt
// (`<|im_start|>{role}\n{content}<|im_end|>\n` turns, optional system turn, \boxed{} / code
// instructions, assistant turn opened with "<think>\n"). It renders RL/eval prompts and SFT
// conversations, the latter with the loss mask over the assistant's tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/sections.h"
#include "tokenizer/tokenizer.h"

namespace acerl::tokenizer {

struct Message {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

enum class TaskKind { plain, math, code };
// "math", "code" or "plain"; UsageError naming `what` (e.g. "data.jsonl:3 task") otherwise.
TaskKind parse_task_kind(const std::string& name, const std::string& what);

// Token ids with a per-token loss mask (1 = trained on).
struct MaskedTokens {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;
};

class ChatTemplate {
 public:
  explicit ChatTemplate(config::ChatConfig config) : config_(std::move(config)) {}

  // The user turn of a question: the question, then the task's instruction after a blank line.
  std::string user_content(const std::string& question, TaskKind kind) const;
  // The conversation as text. A system turn (chat.system) comes first when chat.use_system is
  // on and the messages have none. When the last message is the assistant's it opens with
  // chat.think_prefix (not repeated if the content already starts with it);
  // `add_generation_prompt` appends the opening of the assistant turn, think prefix included.
  std::string render(const std::vector<Message>& messages, bool add_generation_prompt) const;
  // The generation prompt of one question: system turn, user turn, opened assistant turn.
  std::string prompt(const std::string& question, TaskKind kind) const;
  std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, const std::string& question,
                                     TaskKind kind) const;

  // Token ids of a conversation for SFT (it must end with an assistant message) and the mask
  // that is 1 exactly on the assistant contents and their closing <|im_end|>. Each assistant
  // content is encoded on its own, after the text before it: the same token boundary the model
  // sees when it generates after encode_prompt(). decode(ids) == render(messages, false).
  MaskedTokens encode_conversation(const Tokenizer& tokenizer,
                                   const std::vector<Message>& messages) const;
  // The SFT example of one question and its response (the text generated after the prompt).
  MaskedTokens encode_example(const Tokenizer& tokenizer, const std::string& question,
                              TaskKind kind, const std::string& response) const;

  const config::ChatConfig& config() const { return config_; }

 private:
  std::vector<Message> with_system(const std::vector<Message>& messages) const;
  config::ChatConfig config_;
};

}  // namespace acerl::tokenizer
