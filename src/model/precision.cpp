// Precision and autocast scope; see precision.h.
#include "model/precision.h"

#include <ATen/autocast_mode.h>

#if defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "runtime/device.h"
#include "runtime/error.h"

namespace acerl::model {

Precision parse_precision(const std::string& name, const c10::Device& device) {
  if (name == "fp32") return Precision::fp32;
  if (name == "bf16") return Precision::bf16;
  if (name == "auto") return native_bf16(device) ? Precision::bf16 : Precision::fp32;
  throw UsageError(str("precision '", name, "' is not one of auto, fp32, bf16"));
}

bool cpu_has_native_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#elif defined(__aarch64__) && defined(__linux__) && defined(HWCAP2_BF16)
  return (getauxval(AT_HWCAP2) & HWCAP2_BF16) != 0;
#else
  return false;
#endif
}

bool native_bf16(const c10::Device& device) {
  if (device.is_cuda()) return cuda_capability(device) >= 80;
  return cpu_has_native_bf16();
}

const char* precision_name(Precision precision) {
  return precision == Precision::bf16 ? "bf16" : "fp32";
}

c10::ScalarType compute_dtype(Precision precision) {
  return precision == Precision::bf16 ? c10::kBFloat16 : c10::kFloat;
}

AutocastScope::AutocastScope(Precision precision, c10::DeviceType device) : device_(device) {
  if (precision != Precision::bf16) return;
  active_ = true;
  was_enabled_ = at::autocast::is_autocast_enabled(device_);
  at::autocast::set_autocast_dtype(device_, at::kBFloat16);
  at::autocast::set_autocast_enabled(device_, true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  // Leaving the outermost scope drops the cached bf16 copies of the weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(device_, was_enabled_);
}

}  // namespace acerl::model
