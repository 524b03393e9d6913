"""A native crash of the local model is reported, never silent: what happened, and what to do.

llama.cpp runs in ketch's own process (the REPL keeps the model and its KV cache between turns),
so a fault in it kills ketch before any Python code can speak. faulthandler still runs in the
dying process, and writes the fatal error and the Python stack to a file descriptor. That
descriptor is a pipe to a small watcher process started with the model: a run that ends
normally closes the pipe with nothing written and the watcher exits quietly; a run killed by a
fault leaves the fault's text in the pipe, and the watcher copies it to stderr followed by one
line naming the signal and the fix (reinstall llama-cpp-python with portable flags, which
`ketch models install` then checks: check.py).

The watcher is its own session (Ctrl-C at the terminal is not meant for it), holds no terminal
input, and exits when the pipe closes, that is when ketch exits however it exits. The pipe's
write end is not inheritable, so commands ketch runs never hold it open.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

_FAULTS = {"Segmentation fault": "SIGSEGV", "Bus error": "SIGBUS", "Illegal instruction": "SIGILL",
           "Floating-point exception": "SIGFPE", "Floating point exception": "SIGFPE", "Aborted": "SIGABRT"}
_armed = False


def arm() -> None:
    """From now on a fatal signal in this process is reported (once per process)."""
    global _armed
    if _armed or os.environ.get("KETCH_CRASH_WATCH", "1") == "0":
        return
    import faulthandler

    from ketch.providers.local.check import helper_process

    read_end, write_end = os.pipe()
    try:
        subprocess.Popen(**helper_process("ketch.providers.local.crash"), stdin=read_end,
                         stdout=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    except OSError:
        os.close(write_end)
        faulthandler.enable()  # no watcher: the bare fault text still reaches stderr
        return
    finally:
        os.close(read_end)
    faulthandler.enable(file=os.fdopen(write_end, "w", closefd=False), all_threads=True)
    _armed = True


def note(fault_text: str) -> str:
    """The line printed after the fault's own text."""
    from ketch.providers.local.check import reinstall_hint

    match = re.search(r"Fatal Python error: ([A-Za-z -]+)", fault_text)
    what = match.group(1).strip() if match else "a fatal signal"
    sig = _FAULTS.get(what, "")
    return (f"ketch: the local model crashed inside llama.cpp ({what}{', ' + sig if sig else ''}); the run stopped "
            f"and ketch exited. The usual cause is a llama-cpp-python build that does not run on this CPU: "
            f"{reinstall_hint()}; `ketch models install NAME` then checks the new build.\n")


def _watch() -> int:
    data = sys.stdin.buffer.read()  # until ketch exits: EOF
    if not data.strip():
        return 0
    text = data.decode("utf-8", "replace")
    sys.stderr.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.write(note(text))
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_watch())
