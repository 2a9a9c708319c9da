// defines: a small SFT problem for end-to-end tests of `acerl sft`: a synthetic task with
// verifiable answers (the parity of a number, with a short worked <think> section), its
// held-out split, a byte-level BPE tokenizer trained on it with the HF `tokenizers` library, a
// tiny Qwen2 config (model.json; model_medium.json learns the task in a few hundred steps) and an
// INI that ties them together.
#pragma once

#include <string>

namespace acerl::test {

struct SftFixture {
  std::string dir;
  std::string ini;        // dir/sft.ini
  std::string tokenizer;  // dir/tokenizer.json
  std::string eval;       // dir/eval.jsonl (held-out prompts, with "answer")
};

// `train` training examples; `extra_ini` is appended to the INI (sections allowed).
SftFixture make_sft_fixture(const std::string& name, int train = 240, const std::string& extra_ini = "");

}  // namespace acerl::test
