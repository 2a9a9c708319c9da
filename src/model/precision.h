// defines: Precision (how a model computes: fp32, or bf16 autocast over fp32 master weights) and
// AutocastScope, the RAII switch of LibTorch's CPU/CUDA autocast for one region of code.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <string>

namespace acerl::model {

enum class Precision { fp32, bf16 };

// "fp32" | "bf16" | "auto"; throws UsageError. "auto" is bf16 where `device` multiplies bfloat16
// natively (native_bf16), fp32 elsewhere: emulated bf16 matmuls are ~40x slower than fp32 ones
// (measured on an AVX2-only EPYC: 9 vs 372 training tokens/s at the "small" shape).
Precision parse_precision(const std::string& name, const c10::Device& device = c10::kCPU);
// A CUDA GPU of compute capability 8.0 (Ampere) or newer, or a CPU with cpu_has_native_bf16.
bool native_bf16(const c10::Device& device);
const char* precision_name(Precision precision);
// The dtype the matmuls run in: bfloat16 for bf16, float32 for fp32.
c10::ScalarType compute_dtype(Precision precision);
// AVX512-BF16 or AMX-BF16 on x86-64, the BF16 extension on AArch64 (what oneDNN's bf16 GEMMs need).
bool cpu_has_native_bf16();

// Inside the scope, matmuls and attention on `device` run in bfloat16 when `precision` is bf16
// (weights stay float32 and are cast once per scope); nothing changes for fp32.
class AutocastScope {
 public:
  explicit AutocastScope(Precision precision, c10::DeviceType device = c10::kCPU);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool was_enabled_ = false;
  c10::DeviceType device_ = c10::kCPU;
};

}  // namespace acerl::model
