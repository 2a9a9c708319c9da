// defines: Precision (how a model computes: fp32, or bf16 autocast over fp32 master weights) and
// AutocastScope, the RAII switch of LibTorch's CPU/CUDA autocast for one region of code.
#pragma once

#include <string>

namespace acerl::model {

enum class Precision { fp32, bf16 };

Precision parse_precision(const std::string& name);  // "fp32" | "bf16"; throws UsageError
const char* precision_name(Precision precision);

// Inside the scope, matmuls and attention run in bfloat16 when `precision` is bf16 (weights stay
// float32 and are cast once per scope); nothing changes for fp32.
class AutocastScope {
 public:
  explicit AutocastScope(Precision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool was_enabled_ = false;
};

}  // namespace acerl::model
