// Code reward extraction: which fenced block of a response is the submitted program.
#include "support/catch.h"

#include "reward/code_extract.h"

using acerl::reward::extract_python_code;

TEST_CASE("the last python block after </think> is the program", "[code]") {
  const std::string response =
      "<think>\nmaybe\n```python\nprint('draft')\n```\n</think>\n"
      "First try:\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\nprint(3)\n```\nDone.";
  auto code = extract_python_code(response);
  REQUIRE(code);
  CHECK(*code == "print(2)\nprint(3)\n");
}

TEST_CASE("blocks inside the reasoning do not count", "[code]") {
  CHECK_FALSE(extract_python_code("<think>\n```python\nprint(1)\n```\n</think>\nNo code here."));
  // Without </think> the whole response is the answer.
  CHECK(extract_python_code("```python\nprint(1)\n```") == std::string("print(1)\n"));
}

TEST_CASE("python tags: python, py, Python3; other languages are skipped", "[code]") {
  CHECK(extract_python_code("```py\na = 1\n```") == std::string("a = 1\n"));
  CHECK(extract_python_code("```Python3\nb = 2\n```") == std::string("b = 2\n"));
  CHECK(extract_python_code("```PYTHON\nc = 3\n```") == std::string("c = 3\n"));
  CHECK(extract_python_code("```python\nd = 4\n```\n```cpp\nint main() {}\n```") ==
        std::string("d = 4\n"));
  CHECK_FALSE(extract_python_code("```cpp\nint main() {}\n```\n```text\nhello\n```"));
}

TEST_CASE("a bare block is the fallback only when no block is tagged python", "[code]") {
  CHECK(extract_python_code("```\nx = 1\n```\nthen\n```\nx = 2\n```") == std::string("x = 2\n"));
  CHECK(extract_python_code("```python\nx = 1\n```\n```\nnot this\n```") == std::string("x = 1\n"));
}

TEST_CASE("unclosed, empty and indented fences", "[code]") {
  // Cut off at the length budget: the open block is not a submission.
  CHECK_FALSE(extract_python_code("</think>\n```python\nprint(1)\n"));
  CHECK(extract_python_code("```python\nok = 1\n```\n```python\nwhile True:\n") ==
        std::string("ok = 1\n"));
  CHECK(extract_python_code("```python\n```") == std::string(""));
  CHECK(extract_python_code("1. Code:\n   ```python\n   print(5)\n   ```\n") ==
        std::string("   print(5)\n"));
  CHECK(extract_python_code("```python\r\nprint(6)\r\n```\r\n") == std::string("print(6)\r\n"));
  CHECK_FALSE(extract_python_code("no fences at all"));
  CHECK_FALSE(extract_python_code(""));
}
