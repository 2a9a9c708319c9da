// model.precision: "auto" follows the CPU's native bf16 support as the kernel reports it in
// /proc/cpuinfo (an independent reading of the same CPUID bits), and bad names are usage errors.
#include "support/catch.h"

#include <fstream>
#include <sstream>

#include "model/precision.h"
#include "runtime/error.h"

using namespace acerl;

namespace {

// The flag words of the first processor in /proc/cpuinfo ("flags" on x86, "Features" on Arm).
std::string cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0 || line.rfind("Features", 0) == 0) return " " + line + " ";
  return "";
}

}  // namespace

TEST_CASE("precision auto is bf16 exactly where the CPU multiplies bf16 natively", "[model]") {
  const std::string flags = cpuinfo_flags();
  REQUIRE(!flags.empty());  // Linux, which is what acerl runs on
#if defined(__x86_64__)
  const bool kernel_says = flags.find(" avx512_bf16 ") != std::string::npos ||
                           flags.find(" amx_bf16 ") != std::string::npos;
#elif defined(__aarch64__)
  const bool kernel_says = flags.find(" bf16 ") != std::string::npos;
#else
  const bool kernel_says = false;
#endif
  INFO("cpuinfo:" << flags);
  CHECK(model::cpu_has_native_bf16() == kernel_says);
  CHECK(model::parse_precision("auto") ==
        (kernel_says ? model::Precision::bf16 : model::Precision::fp32));
  CHECK(model::parse_precision("bf16") == model::Precision::bf16);
  CHECK(model::parse_precision("fp32") == model::Precision::fp32);
}

TEST_CASE("an unknown precision names the valid ones", "[model]") {
  CHECK_THROWS_WITH(model::parse_precision("fp16"),
                    Catch::Contains("'fp16'") && Catch::Contains("auto, fp32, bf16"));
  CHECK_THROWS_AS(model::parse_precision("fp16"), UsageError);
}
