// The tokenizer test corpus; see corpus.h.
#include "tokenizer/corpus.h"

#include <random>

#include "tokenizer/unicode.h"

namespace acerl::test {

std::vector<std::string> tokenizer_corpus() {
  std::vector<std::string> texts = {
      "",
      " ",
      "Hello world",
      "The quick brown fox jumps over the lazy dog. It was a bright cold day in April, and the "
      "clocks were striking thirteen.",
      "  leading spaces and trailing spaces   ",
      // contractions in several cases, and apostrophes that are not contractions
      "It's, it'S, IT'S, we're, WE'RE, they've, I'm, I'M, you'll, YOU'LL, he'd, HE'D, don't, "
      "DON'T, 'twas, rock 'n' roll, o'clock, ''quoted'', it's'",
      "Contraction-like: 'sun 'Tom 'reed 'veal 'mad 'lll 'dd x'S y'T z'Re",
      "Long s: it\u017f, it'\u017f, I'\u017fx, fullwidth I'\uff33",
      // code
      "def f(x):\n    return x ** 2  # square\n\nclass A:\n\tpass\n",
      "#include <cstdio>\nint main() { printf(\"%d\\n\", 42); return 0; }\r\n",
      "for (int i = 0; i < n; ++i) {\n        sum += a[i] * b[i];\n    }\n",
      "x = {'a': [1, 2, 3], \"b\": None}; y = x['a'][-1] if x else ...",
      "```python\nimport sys\nprint(sum(map(int, sys.stdin.read().split())))\n```",
      // LaTeX and math
      "\\frac{a+b}{c} = \\sqrt{x^2 + y^2}, \\boxed{42}, $\\int_0^1 f(x)\\,dx$",
      "\\begin{align} E &= mc^2 \\\\ \\nabla \\cdot \\mathbf{E} &= \\rho/\\epsilon_0 \\end{align}",
      "Let $n \\geq 1$. Then $\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}$.",
      // digits and long numbers
      "3.14159265358979323846264338327950288419716939937510",
      "1234567890 12,345,678.90 -0.5e-10 0x1F 1e100 2024-01-01 12:30:45",
      "Version 1.2.3, \u0661\u0662\u0663 (Arabic-Indic), \uff11\uff12\uff13 (fullwidth), \u00bd "
      "\u2167",
      std::string(600, '7'),
      " 99999999999999999999999999999999999999999999999999999999999999999999999999",
      // white-space runs
      "a  b   c    d",
      "tabs\t\tand\t \tmixed \t \n",
      "lines\n\nand\r\nwindows\r\n\r\nand\rmac\n\n\n   \n  x",
      "\n\n\n",
      "   \n",
      "trailing newline\n",
      "nbsp\u00a0\u00a0here, ideographic\u3000\u3000space, em\u2003space, nel\u0085x, "
      "ls\u2028ps\u2029",
      "\x0b\x0c vertical tab and form feed \x1c\x1d\x1e\x1f",
      std::string(300, ' ') + "x" + std::string(100, '\n'),
      // CJK and other scripts
      "\u4eca\u5929\u5929\u6c14\u5f88\u597d\uff0c\u6211\u4eec\u53bb\u516c\u56ed\u6563\u6b65\u5427"
      "\u3002",
      "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3068\u30ab\u30bf\u30ab\u30ca\u3002",
      "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8\uc785\ub2c8\ub2e4.",
      "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! "
      "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac "
      "\u05e2\u05d1\u05e8\u05d9\u05ea \u0627\u0644\u0639\u0631\u0628\u064a\u0629 "
      "\u0939\u093f\u0928\u094d\u0926\u0940 \u0e44\u0e17\u0e22",
      // emoji, including ZWJ sequences, skin tones, flags and keycaps
      "I \u2764\ufe0f tokenizers \U0001F600\U0001F602\U0001F923",
      "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 family, "
      "\U0001F44D\U0001F3FD thumbs, \U0001F1EF\U0001F1F5 flag, 1\ufe0f\u20e3 keycap, "
      "\U0001F3F3\ufe0f\u200d\U0001F308",
      // combining marks and decomposed text: NFC changes these
      "cafe\u0301 na\u0131\u0308ve re\u0301sume\u0301 A\u030a\u0301",
      "e\u0301\u0323 vs e\u0323\u0301 and \u1e0b\u0323 \u0071\u0307\u0323",
      "\u1100\u1161\u11a8 \u1100\u1161 \uac00\u11a8 (conjoining jamo)",
      "\u212b \u2126 \u00c5 \u0344 \u0958 (singletons and exclusions)",
      "Zalgo: Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349"
      "\u035a\u032f\u031e\u0320\u034da\u0340\u0341l\u0358g\u0358o",
      "\u0300 starts with a combining mark, \u0301\u0301 twice",
      // special tokens inside text
      "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
      "<|im_start|>assistant\n<think>\nLet me think.\n</think>\n\nThe answer is 4.<|im_end|>",
      "text<|endoftext|>more text <|endoftext|><|endoftext|>",
      "almost <|im_start|| <|im_end> <think > </think <|endoftext|",
      "<think></think><think>\n\n</think>\n\n",
      "< |im_start|> <<|im_start|>> <|im_start|><|im_start|>",
      // punctuation soup and misc
      "!!! ??? ... --- *** ### @@@ $$$ %%% ^^^ &&& ((( ))) [[[ ]]] {{{ }}}",
      "email@example.com https://example.com/path?q=1&r=2#frag",
      "\u201cSmart quotes\u201d \u2018single\u2019 \u2014 em dash \u2026 ellipsis "
      "\u00a9\u00ae\u2122",
      "Mixed\u00e9CASE\u00c9 and \u00df \u1e9e \u0130 \u0131",
      std::string(500, 'a'),
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbb"
      "QWxhZGRpbjpvcGVuIHNlc2FtZQQWxhZGRpbjpvcGVuIHNlc2FtZQQWxhZGRpbjpvcGVuIHNlc2FtZQ",
      "\u4e00\u4e01\u4e02\u4e03\u4e04\u4e05\u4e06\u4e07\u4e08\u4e09\u4e0a\u4e0b\u4e0c\u4e0d\u4e0e"
      "\u4e0f\u4e10\u4e11\u4e12\u4e13\u4e14\u4e15\u4e16\u4e17\u4e18\u4e19\u4e1a\u4e1b\u4e1c\u4e1d"
      "\u4e1e\u4e1f\u4e20\u4e21\u4e22\u4e23\u4e24\u4e25\u4e26\u4e27\u4e28\u4e29\u4e2a\u4e2b\u4e2c"
      "\u4e2d\u4e2e\u4e2f\u4e30\u4e31\u4e32\u4e33\u4e34\u4e35\u4e36\u4e37\u4e38\u4e39\u4e3a",
  };
  // A long text, so the pre-tokenizer matches it in several windows.
  std::string all;
  for (int round = 0; round < 4; ++round)
    for (const auto& t : texts) all += t + (round % 2 ? " " : "\n");
  texts.push_back(all);
  return texts;
}

std::vector<std::string> random_utf8_texts(int count, uint64_t seed) {
  // Blocks with no characters added since Unicode 14, so the tables of Python, Oniguruma and
  // Rust's unicode-normalization agree on them whatever their exact Unicode version.
  static const std::pair<uint32_t, uint32_t> kRanges[] = {
      {0x20, 0x7E},       {0x20, 0x7E},       {0x20, 0x7E},     {0x09, 0x0D},
      {0xA0, 0xFF},       {0x100, 0x17F},     {0x180, 0x24F},   {0x300, 0x36F},
      {0x370, 0x3FF},     {0x400, 0x4FF},     {0x590, 0x5FF},   {0x600, 0x6FF},
      {0x900, 0x97F},     {0x980, 0x9FF},     {0xE00, 0xE7F},   {0x1100, 0x11FF},
      {0x1E00, 0x1EFF},   {0x2000, 0x206F},   {0x20A0, 0x20CF}, {0x2100, 0x214F},
      {0x2190, 0x23FF},   {0x3000, 0x303F},   {0x3040, 0x30FF}, {0x4E00, 0x9FFF},
      {0xAC00, 0xD7A3},   {0xFF00, 0xFFEF},   {0xFE00, 0xFE0F}, {0x1F300, 0x1F64F},
      {0x1F680, 0x1F6FF}, {0x1D400, 0x1D7FF},
  };
  std::mt19937_64 rng(seed);
  std::vector<std::string> texts;
  for (int t = 0; t < count; ++t) {
    std::string text;
    const int length = static_cast<int>(rng() % 40);
    for (int i = 0; i < length; ++i) {
      const auto& [lo, hi] = kRanges[rng() % std::size(kRanges)];
      const uint32_t cp = lo + static_cast<uint32_t>(rng() % (hi - lo + 1));
      tokenizer::unicode::append_utf8(text, cp);
    }
    texts.push_back(text);
  }
  return texts;
}

}  // namespace acerl::test
