"""Run corpus programs in children forked from one interpreter that has already imported the
framework (TensorFlow's import costs tens of seconds on a loaded machine; a fork costs none).

run.py starts it with ``python forkserver.py MODULE`` and sends one JSON line per program:
{"cwd": dir, "timeout": seconds}; the child runs dir/main.py as __main__ with its stdout and
stderr in dir/stdout.txt and dir/stderr.txt; the server answers {"rc": int|None, "timed_out": bool}.
Each child starts from the server's state (only the import done), so programs do not see each
other's graphs, variables or modules.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import signal
import sys
import time
import traceback


def child(cwd: str) -> None:
    os.chdir(cwd)
    for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
        f = os.open(os.path.join(cwd, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(f, fd)
        os.close(f)
    sys.path.insert(0, cwd)
    sys.argv = ["main.py"]
    code = 0
    try:
        runpy.run_path("main.py", run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def main() -> None:
    for module in sys.argv[1:]:
        importlib.import_module(module)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            child(job["cwd"])
        deadline = time.time() + job["timeout"]
        rc, timed_out = None, False
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                rc = os.waitstatus_to_exitcode(status)
                break
            if time.time() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                timed_out = True
                break
            time.sleep(0.05)
        print(json.dumps({"rc": rc, "timed_out": timed_out}), flush=True)


if __name__ == "__main__":
    main()
