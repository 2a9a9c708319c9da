// defines: extract_python_code: the program a response submits for the code reward, i.e. the
// last fenced Python block of the answer (after `</think>`). First step of the code reward:
// response text -> program -> sandboxed tests (code_reward.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace acerl::reward {

// The body of the last ```python / ```py / ```python3 block (tag case-insensitive) of the
// answer; when no block is tagged Python, the last untagged ``` block. When the response has a
// `</think>`, only the text after its first occurrence counts. Fences must start a line
// (indentation allowed); a block left open at the end of the response does not count (a response
// cut off at the length budget submits nothing). nullopt when there is no such block.
std::optional<std::string> extract_python_code(std::string_view response);

}  // namespace acerl::reward
