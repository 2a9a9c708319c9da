// The embedded Python launcher of the code sandbox; see code_harness.h.
#include "reward/code_harness.h"

namespace acerl::reward {

const char* code_harness_source() {
  // Underscored names keep the launcher out of the way of the program's own names.
  return R"PY(
import os as _os, sys as _sys, resource as _resource
_mode, _nproc = _sys.argv[1], int(_sys.argv[2])
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
    _sys.exit(0)

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
}

}  // namespace acerl::reward
