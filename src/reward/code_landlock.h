// defines: landlock_abi, landlock_ruleset: the file-system (and, on newer kernels, network and
// signal) confinement of the code sandbox's rlimit fallback, which has no mount namespace to hide
// the caller's files. Landlock needs no privileges; the child applies the ruleset just before exec
// (code_process.cpp). Used by code_sandbox.cpp.
#pragma once

#include <string>
#include <vector>

#include "reward/code_process.h"

namespace acerl::reward {

// The Landlock ABI version this kernel offers; 0 when it lacks Landlock or has it disabled.
int landlock_abi();

// A ruleset under which a process may read and execute files beneath `read_dirs`, read, write,
// create and remove files beneath its own `work_dir`, and use the devices /dev/null, /dev/zero,
// /dev/random, /dev/urandom. Everything else on the file system is refused (EACCES): the training
// data and its expected outputs, checkpoints, /proc, /dev/shm, the host's /tmp. ABI >= 4 also
// refuses every TCP bind and connect; ABI >= 6 refuses signals to, and abstract Unix sockets of,
// processes outside the sandbox (the training job). Paths that do not exist are left out. Throws
// acerl::Error when Landlock is missing (check landlock_abi()).
UniqueFd landlock_ruleset(const std::vector<std::string>& read_dirs, const std::string& work_dir);

}  // namespace acerl::reward
