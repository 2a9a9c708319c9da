// The embedded Python launcher of the code sandbox; see code_harness.h.
#include "reward/code_harness.h"

#include <string>

namespace acerl::reward {

namespace {

// The harness as a function, shared by the per-run launcher and the pre-started interpreter.
// Underscored names keep it out of the way of the program's own names.
constexpr const char* kHarness = R"PY(
import os as _os, sys as _sys, resource as _resource

def _acerl_harness(_mode, _nproc):
    if _nproc > 0:
        _resource.setrlimit(_resource.RLIMIT_NPROC, (_nproc, _nproc))
    if _mode == "stdio":
        # What `python main.py` does, without runpy's import cost: a fresh __main__ module.
        _main = type(_sys)("__main__")
        _main.__file__ = "main.py"
        _main.__builtins__ = __builtins__
        _sys.modules["__main__"] = _main
        _sys.argv = ["main.py"]
        with open("main.py", "rb") as _f:
            _code = compile(_f.read(), "main.py", "exec")
        exec(_code, _main.__dict__)
        return
    import json as _json
    _request = _json.loads(_sys.stdin.read())
    _result = _os.fdopen(_os.dup(1), "w")
    _os.dup2(2, 1)
    _namespace = {"__name__": "solution", "__builtins__": __builtins__}
    exec("from typing import *\n"
         "import collections, heapq, bisect, itertools, functools, math, string, re, random, operator\n"
         "from collections import *\nfrom heapq import *\nfrom bisect import *\n"
         "from itertools import *\nfrom functools import *\nfrom math import *\n", _namespace)
    with open("main.py") as _f:
        exec(compile(_f.read(), "main.py", "exec"), _namespace)
    _name, _args = _request["fn_name"], _request["args"]
    _cls = _namespace.get("Solution")
    if isinstance(_cls, type) and hasattr(_cls, _name):
        _target = getattr(_cls(), _name)
    elif callable(_namespace.get(_name)):
        _target = _namespace[_name]
    else:
        _sys.stderr.write("acerl harness: main.py defines neither Solution.%s nor %s\n" % (_name, _name))
        _sys.exit(3)
    _value = _target(**_args) if isinstance(_args, dict) else _target(*_args)

    def _plain(value):
        if isinstance(value, (set, frozenset)):
            try:
                return sorted(value)
            except TypeError:
                return list(value)
        raise TypeError("a result of type %s is not JSON" % type(value).__name__)

    try:
        _text = _json.dumps(_value, default=_plain, allow_nan=False)
    except (TypeError, ValueError) as _e:
        _sys.stderr.write("acerl harness: %s\n" % _e)
        _sys.exit(4)
    _result.write(_text + "\n")
    _result.flush()
)PY";

// One run per interpreter: the harness on main.py in the working directory.
constexpr const char* kLauncher = R"PY(
_acerl_harness(_sys.argv[1], int(_sys.argv[2]))
)PY";

// The pre-started interpreter (code_prestart.h): PID 1 of its sandbox. It imports what programs
// commonly import, then serves requests on fd 3 one at a time: each is a fresh forked child
// with the request's stdin/stdout/stderr, rlimits and /tmp/main.py, running the harness and
// exiting as `python` would (status, atexit handlers, non-daemon threads, flushed streams).
// After each child it kills whatever the run left running, empties nothing but checks /tmp, and
// reports the wait status and whether the sandbox is as it was (else the caller replaces it).
constexpr const char* kServer = R"PY(
import atexit as _atexit, ctypes as _ctypes, signal as _signal, socket as _socket, struct as _struct
import time as _time
import json, typing, collections, heapq, bisect, itertools, functools, math, string, re, random, operator

_libc = _ctypes.CDLL(None, use_errno=True)
_libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no run can open /proc/1/mem or /proc/1/fd/*
_signal.signal(_signal.SIGINT, _signal.SIG_IGN)  # as PID 1, signals without handlers are ignored
_REQUEST = _struct.Struct("<4sBiqqI")  # magic, mode (0 stdio, 1 call), nproc, RLIMIT_AS, RLIMIT_CPU, len
_ctl = _socket.socket(fileno=3)

def _exact(n):
    data = b""
    while len(data) < n:
        more = _ctl.recv(n - len(data))
        if not more:
            _os._exit(0)
        data += more
    return data

def _status(e):
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        _sys.stderr.write(str(code) + "\n")
    except Exception:
        pass
    return 1

def _child(fds, mode, nproc, memory, cpu, program):
    status = 1
    try:
        for i, fd in enumerate(fds):
            _os.dup2(fd, i)
        _os.closerange(3, 1 << 16)
        _signal.signal(_signal.SIGINT, _signal.default_int_handler)
        _libc.prctl(4, 1, 0, 0, 0)
        with open("/tmp/main.py", "wb") as f:
            f.write(program)
        _resource.setrlimit(_resource.RLIMIT_AS, (memory, memory))
        _resource.setrlimit(_resource.RLIMIT_CPU, (cpu, cpu))
        _acerl_harness("call" if mode == 1 else "stdio", nproc)
        status = 0
    except SystemExit as e:
        status = _status(e)
    except BaseException:
        _sys.excepthook(*_sys.exc_info())
    try:
        if "threading" in _sys.modules:
            _sys.modules["threading"]._shutdown()
        _atexit._run_exitfuncs()
    except BaseException:
        _sys.excepthook(*_sys.exc_info())
    try:
        _sys.stdout.flush()
    except BaseException:
        status = 120
    try:
        _sys.stderr.flush()
    except BaseException:
        pass
    _os._exit(status)

def _state():
    # What a run may have changed in PID 1 from outside (prlimit, setpriority, affinity,
    # scheduler): the next run's child would inherit it.
    limits = tuple(_resource.getrlimit(getattr(_resource, n)) for n in dir(_resource)
                   if n.startswith("RLIMIT_"))
    return (limits, _os.getpriority(_os.PRIO_PROCESS, 0), _os.getpriority(_os.PRIO_PGRP, 0),
            _os.getpriority(_os.PRIO_USER, 0), sorted(_os.sched_getaffinity(0)),
            _os.sched_getscheduler(0), _os.sched_getparam(0).sched_priority)

def _sweep():
    # Every other process of the namespace dies (kill(-1) from PID 1 spares only itself); then
    # /tmp must hold nothing but main.py and PID 1 must be as it started. Any failure: unclean.
    clean = True
    try:
        until = _time.monotonic() + 2
        while True:
            others = [p for p in _os.listdir("/proc") if p.isdigit() and p != "1"]
            if not others:
                break
            clean = False
            if _time.monotonic() > until:
                return False
            try:
                _os.kill(-1, _signal.SIGKILL)
            except ProcessLookupError:
                pass
            while True:
                try:
                    if _os.waitpid(-1, _os.WNOHANG)[0] == 0:
                        _time.sleep(0.001)
                        break
                except ChildProcessError:
                    break
        _os.unlink("/tmp/main.py")
        return clean and not _os.listdir("/tmp") and _state() == _START
    except Exception:
        return False

_START = _state()
_ctl.sendall(b"R")
while True:
    try:
        head, fds, _flags, _addr = _socket.recv_fds(_ctl, _REQUEST.size, 3)
    except OSError:
        _os._exit(0)
    if not head:
        _os._exit(0)
    head += _exact(_REQUEST.size - len(head))
    magic, mode, nproc, memory, cpu, length = _REQUEST.unpack(head)
    if magic != b"ACZ1" or len(fds) != 3:
        _os._exit(2)
    program = _exact(length)
    _sys.stdout.flush()
    _sys.stderr.flush()
    pid = _os.fork()
    if pid == 0:
        _child(fds, mode, nproc, memory, cpu, program)
    for fd in fds:
        _os.close(fd)
    _pid, status = _os.waitpid(pid, 0)
    clean = _sweep()
    _ctl.sendall(_struct.pack("<iB", status, 1 if clean else 0))
)PY";

}  // namespace

const std::string& code_harness_source() {
  static const std::string source = std::string(kHarness) + kLauncher;
  return source;
}

const std::string& code_prestart_source() {
  static const std::string source = std::string(kHarness) + kServer;
  return source;
}

}  // namespace acerl::reward
