"""Floods: output, processes, time, memory. Each stays bounded and the run finishes.

Processes are checked on the host with `pgrep -f` for a marker unique to the test, both
while ketch is still running (from the scripted model's next turn, i.e. right after the
call returned) and after it exits.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from typing import Any

from attack_kit import bash, turn

BYPASS = "bypassPermissions"


def _host_processes(marker: str) -> list[str]:
    out = subprocess.run(["pgrep", "-af", marker], capture_output=True, text=True, check=False)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def _wait_gone(marker: str, within_s: float = 3.0) -> list[str]:
    deadline = time.monotonic() + within_s
    while (left := _host_processes(marker)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def test_output_flood_is_capped_before_the_model(lab):
    out = lab.run([turn(bash("x", "yes | head -c 50000000; echo; echo FLOOD-END"))], mode=BYPASS)
    text = out.result_text("x")
    assert len(text) <= 40_000, f"the model received {len(text)} characters"
    assert "y\ny\n" in text  # it is the flood, cut
    biggest = max(len(json.dumps(r.body)) for r in out.requests)
    assert biggest < 200_000, f"a request to the model carried {biggest} bytes"
    lab.assert_safe(out)


def test_fork_bomb_is_bounded_and_the_run_finishes(lab):
    marker = f"fb{secrets.token_hex(5)}"
    command = f"bash -c ':(){{ :|:& }};:' {marker}; sleep 2; echo survived"
    t0 = time.monotonic()
    out = lab.run([turn(bash("x", command, timeout=6000))], mode=BYPASS, timeout=60)
    elapsed = time.monotonic() - t0
    assert out.returncode == 0 and out.result["subtype"] == "success", out.stderr[-2000:]
    assert elapsed < 30, f"the run took {elapsed:.1f} s"
    assert _wait_gone(marker) == [], "fork bomb processes outlived the call"
    lab.assert_safe(out)


def test_sleep_past_the_bash_timeout_is_killed(lab):
    seconds = f"1000.{secrets.randbelow(10**6):06d}"  # `sleep 1000` with a unique marker
    t0 = time.monotonic()
    out = lab.run([turn(bash("x", f"sleep {seconds}", timeout=1000))], mode=BYPASS)
    elapsed = time.monotonic() - t0
    assert elapsed < 15, f"the run took {elapsed:.1f} s"
    results = out.results()
    assert results["x"]["is_error"] and "timed out" in results["x"]["content"], results["x"]
    assert _wait_gone(f"sleep {seconds}") == []
    lab.assert_safe(out)


def test_background_processes_are_gone_after_the_call(lab):
    digits = str(secrets.randbelow(10**6)).zfill(6)
    marks = [f"300.{digits}1", f"300.{digits}2", f"300.{digits}3"]
    command = (f"sleep {marks[0]} & setsid nohup sleep {marks[1]} >/dev/null 2>&1 & "
               f"(trap '' HUP TERM; exec sleep {marks[2]}) & disown -a; echo started")
    seen: dict[str, Any] = {}

    def after_call(body: dict[str, Any]) -> dict[str, Any]:
        seen["during_run"] = _wait_gone(f"sleep 300.{digits}", within_s=3.0)
        return {"text": "done"}

    t0 = time.monotonic()
    out = lab.run([turn(bash("x", command)), after_call], mode=BYPASS)
    assert time.monotonic() - t0 < 15
    assert "started" in out.result_text("x")
    assert seen["during_run"] == [], f"still running after the call returned: {seen['during_run']}"
    assert _host_processes(f"sleep 300.{digits}") == []
    lab.assert_safe(out)


def test_memory_bomb_fails_inside_the_sandbox(lab):
    command = "python3 -c \"b = bytearray(3 * 1024**3); print('ALLOCATED', len(b))\"; echo rc=$?"
    out = lab.run([turn(bash("x", command))], mode=BYPASS)
    text = out.result_text("x")
    assert "MemoryError" in text and "ALLOCATED" not in text, text
    lab.assert_safe(out)
