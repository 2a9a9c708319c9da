// defines: code_harness_source: the Python launcher every sandboxed run starts with. It applies
// the limits that only work from inside the sandbox (RLIMIT_NPROC), then runs the submitted
// main.py either as a script on stdin/stdout or as a function-call test. Embedded in the
// binary, so acerl needs no file from the source tree at run time; used by code_sandbox.cpp.
#pragma once

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
const char* code_harness_source();

}  // namespace acerl::reward
