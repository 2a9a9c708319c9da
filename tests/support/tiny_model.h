// defines: tiny Qwen2 configurations and checkpoints for tests: small enough to run in
// milliseconds, shaped to exercise GQA, untied heads, rope_theta 1e6 and every parallel layout
// the tests use (heads, KV heads, vocab and ffn divisible by 2; 4 layers for pp = 2).
#pragma once

#include <string>
#include <vector>

#include "model/qwen2.h"

namespace acerl::test {

model::Qwen2Config tiny_config(bool tied = false);
// Writes config.json + model.safetensors (float32) of a randomly initialised tiny model.
void write_tiny_checkpoint(const std::string& dir, const model::Qwen2Config& config, uint64_t seed);
// Deterministic pseudo-random token ids in [0, vocab).
std::vector<int64_t> random_ids(int64_t n, int64_t vocab, uint64_t seed);
std::string ids_json(const std::vector<std::vector<int64_t>>& sequences);

}  // namespace acerl::test
