"""Cost per command of the socket filter and the protected-path watch: `python bench/sandbox_seams.py`.

Runs `true` through the sandbox with each mechanism on and off, interleaved round by round
(so a busy machine weighs on every variant alike), and the mechanisms' own host-side work
alone (building the filter pipe; arming, disarming and checking the watch), as medians.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "60"))


def main() -> None:
    from ketch.security.sandbox.bwrap import Sandbox, SandboxPolicy
    from ketch.security.sandbox.quarantine import quarantine
    from ketch.security.sandbox.seccomp import filter_fd, machine, unix_socket_filter
    from ketch.security.sandbox.tripwire import Tripwire

    real_watch = Tripwire.watch
    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        ws, home = Path(scratch, "ws"), Path(scratch, "home")
        ws.mkdir()
        home.mkdir()
        (ws / ".git").mkdir()
        variants = {
            "neither": (Sandbox(SandboxPolicy(workspace=ws, home=home, allow_unix_sockets=True)), False),
            "socket filter": (Sandbox(SandboxPolicy(workspace=ws, home=home)), False),
            "path watch": (Sandbox(SandboxPolicy(workspace=ws, home=home, allow_unix_sockets=True)), True),
            "both (default)": (Sandbox(SandboxPolicy(workspace=ws, home=home)), True),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(RUNS + 1):
            for name, (sb, watch) in variants.items():
                if not watch:
                    tripwire = sb._core.tripwire
                    tripwire.watch = lambda suspects, on_trip, tw=tripwire: real_watch(tw, [], on_trip)  # type: ignore[method-assign]
                t0 = time.perf_counter()
                sb(["true"], cwd=ws, timeout_s=10)
                times[name].append(time.perf_counter() - t0)
        suspects = [ws / n for n in (".ketch", ".mcp.json", ".claude", ".vscode", ".idea", ".envrc")]
        suspects += [ws / ".git" / n for n in ("hooks", "config", "modules", "commondir", "worktrees")]
        program = unix_socket_filter(machine() or "x86_64")

        wire = Tripwire()

        def host_watch() -> None:
            wire.release(wire.watch(suspects, lambda p: None))
            for s in suspects:
                quarantine(s, Path(scratch, "q"))

        def host_filter() -> None:
            os.close(filter_fd(program))

        micro = {}
        for label, fn in (("watch: arm + disarm + check 11 paths", host_watch), ("filter: pipe per call", host_filter)):
            fn()
            samples = []
            for _ in range(200):
                t0 = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t0)
            micro[label] = statistics.median(samples) * 1000
        wire.close()
        for sb, _ in variants.values():
            sb.close()
    print(f"runs: {RUNS}; python {sys.version.split()[0]}; {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    print("| sandboxed `true` | median |\n|---|---|")
    for name, samples in times.items():
        print(f"| {name} | {statistics.median(samples[1:]) * 1000:.1f} ms |")
    print("| host-side work alone | median |\n|---|---|")
    for label, ms in micro.items():
        print(f"| {label} | {ms:.3f} ms |")


if __name__ == "__main__":
    main()
