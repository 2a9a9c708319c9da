// Landlock rulesets of the code sandbox's rlimit fallback; see code_landlock.h.
//
// The constants and structs are spelled out here rather than taken from <linux/landlock.h>:
// the build machine's headers may predate the kernel the job runs on, and what a ruleset
// handles is chosen at run time from the ABI version the kernel reports.
#include "reward/code_landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "runtime/error.h"

namespace acerl::reward {
namespace {

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#endif

constexpr uint64_t kFsExecute = 1ull << 0;
constexpr uint64_t kFsWriteFile = 1ull << 1;
constexpr uint64_t kFsReadFile = 1ull << 2;
constexpr uint64_t kFsReadDir = 1ull << 3;
constexpr uint64_t kFsMakeChar = 1ull << 6;
constexpr uint64_t kFsMakeBlock = 1ull << 11;
constexpr uint64_t kFsAbi1 = (1ull << 13) - 1;  // EXECUTE .. MAKE_SYM
constexpr uint64_t kFsRefer = 1ull << 13;       // ABI 2
constexpr uint64_t kFsTruncate = 1ull << 14;    // ABI 3
constexpr uint64_t kFsIoctlDev = 1ull << 15;    // ABI 5
constexpr uint64_t kFileRights =
    kFsExecute | kFsWriteFile | kFsReadFile | kFsTruncate | kFsIoctlDev;
constexpr uint64_t kNetBindTcp = 1ull << 0;         // ABI 4
constexpr uint64_t kNetConnectTcp = 1ull << 1;      // ABI 4
constexpr uint64_t kScopeAbstractUnix = 1ull << 0;  // ABI 6
constexpr uint64_t kScopeSignal = 1ull << 1;        // ABI 6
constexpr uint32_t kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;

struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

uint64_t handled_fs(int abi) {
  uint64_t fs = kFsAbi1;
  if (abi >= 2) fs |= kFsRefer;
  if (abi >= 3) fs |= kFsTruncate;
  if (abi >= 5) fs |= kFsIoctlDev;
  return fs;
}

// Allows `rights` (within what the ruleset handles) beneath `path`; a missing path is skipped.
void allow(int ruleset, const std::string& path, uint64_t rights, uint64_t handled) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!fd.open()) {
    ACERL_CHECK(errno == ENOENT, "code sandbox: cannot open ", path,
                " for its Landlock rule: ", std::strerror(errno));
    return;
  }
  struct stat st;
  ACERL_CHECK(fstat(fd.get(), &st) == 0, "code sandbox: fstat ", path, ": ", std::strerror(errno));
  PathBeneathAttr attr{};
  attr.allowed_access = rights & handled & (S_ISDIR(st.st_mode) ? ~0ull : kFileRights);
  attr.parent_fd = fd.get();
  ACERL_CHECK(syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &attr, 0) == 0,
              "code sandbox: Landlock rule for ", path, ": ", std::strerror(errno));
}

}  // namespace

int landlock_abi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi > 0 ? static_cast<int>(abi) : 0;
}

UniqueFd landlock_ruleset(const std::vector<std::string>& read_dirs, const std::string& work_dir) {
  const int abi = landlock_abi();
  ACERL_CHECK(abi > 0, "code sandbox: this kernel has no Landlock (or it is disabled)");
  RulesetAttr attr{};
  attr.handled_access_fs = handled_fs(abi);
  size_t size = sizeof attr.handled_access_fs;
  if (abi >= 4) {
    attr.handled_access_net = kNetBindTcp | kNetConnectTcp;  // no rule allows any port
    size = offsetof(RulesetAttr, scoped);
  }
  if (abi >= 6) {
    attr.scoped = kScopeAbstractUnix | kScopeSignal;
    size = sizeof attr;
  }
  UniqueFd ruleset(static_cast<int>(syscall(SYS_landlock_create_ruleset, &attr, size, 0)));
  ACERL_CHECK(ruleset.open(), "code sandbox: landlock_create_ruleset: ", std::strerror(errno));
  const uint64_t handled = attr.handled_access_fs;
  for (const auto& dir : read_dirs)
    allow(ruleset.get(), dir, kFsExecute | kFsReadFile | kFsReadDir, handled);
  allow(ruleset.get(), work_dir, ~(kFsMakeChar | kFsMakeBlock | kFsIoctlDev), handled);
  for (const char* dev : {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"})
    allow(ruleset.get(), dev, kFsReadFile | kFsWriteFile | kFsTruncate | kFsIoctlDev, handled);
  return ruleset;
}

}  // namespace acerl::reward
