// defines: code_harness_source: the Python launcher every sandboxed run starts with. It applies
// the limits that only work from inside the sandbox (RLIMIT_NPROC), then runs the submitted
// main.py either as a script on stdin/stdout or as a function-call test; code_prestart_source,
// the same harness in a pre-started interpreter that forks a child per run. Embedded in the
// binary, so acerl needs no file from the source tree at run time; used by code_sandbox.cpp and
// code_prestart.cpp.
#pragma once

#include <string>

namespace acerl::reward {

// Run as `python -I -c <source> MODE NPROC` with main.py in the working directory:
//   MODE "stdio": main.py runs as __main__ with the test input on stdin.
//   MODE "call":  stdin holds {"fn_name": f, "args": [...] or {...}}; main.py is executed as a
//                 module (after a preamble of the usual `typing`/`collections`/`math`/... imports
//                 LeetCode-style code assumes), then `Solution().f(*args)` (or the top-level
//                 `f(*args)` when there is no such method) is called and its JSON result is the
//                 only thing written to stdout; the program's own prints go to stderr. Exit
//                 status 3 when no such function exists, 4 when the result is not JSON-encodable.
//   NPROC > 0 caps the processes + threads of the sandbox's user (RLIMIT_NPROC).
const std::string& code_harness_source();

// The pre-started interpreter (code_prestart.h), run as `python -I -c <source>` as its sandbox's
// PID 1 with a stream socket as fd 3. Protocol on it: the interpreter writes "R" once ready; a
// request is the header struct "<4sBiqqI" ("ACZ1", mode 0 = stdio / 1 = call, NPROC,
// RLIMIT_AS bytes, RLIMIT_CPU seconds, program length) sent with three descriptors (SCM_RIGHTS:
// the run's stdin, stdout, stderr), then the program's bytes; the reply, once the run's child
// exited and anything it left running was killed, is "<iB": the child's wait status and 1 when
// the sandbox is as before the run (no process left, nothing left in /tmp), else 0.
const std::string& code_prestart_source();

}  // namespace acerl::reward
