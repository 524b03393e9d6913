"""`ketch audit` throughput and memory (issue 14, DESIGN.md §6): `python bench/audit.py` from the repo root.

Builds three inputs from real code (the Python standard library's own sources, read from this
interpreter's Lib folder, so every machine has them):

  map     a ~60 MB source map whose sourcesContent holds ~5,000 original files (the 2.1.88 shape)
  wheel   a ~200 MB wheel of code, JSON data and a few binaries (deflated, as wheels are)
  folder  10,000 small files of code

and runs, each in a fresh process, in alternating rounds (BENCH_AUDIT_ROUNDS, default 3):

  floor     the same readers with no checks (reading, unzipping, inflating: what any audit pays)
  ketch     `ketch audit TARGET --format json --fail-on never`, every check
  detect-secrets  `detect-secrets scan --all-files` of the same bytes (the map and the folder as they
            are, the wheel's members unpacked into a folder first, not timed), when it is installed;
            first round only (at ~0.5 MB/s one round takes minutes)

MB/s is the input's uncompressed bytes over the median wall time; peak RSS is the child's own
ru_maxrss: the inputs are built by a separate process (`--build DIR`), so the parent that forks the
timed children stays small (a forked child inherits its parent's high-water mark on Linux, and the
parent used to hold the whole corpus and the map's JSON). BENCH_AUDIT_DETECT=0 leaves detect-secrets
out (its one round takes about ten minutes). Budgets: ≥ 50 MB/s per core on text; a 60 MB map in ≤ 3 s; peak RSS ≤ 150 MB.
Prints a Markdown table; exits 1 when a budget is missed.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_AUDIT_ROUNDS", "3"))
DETECT = os.environ.get("BENCH_AUDIT_DETECT", "1") != "0"
FLOOR = ("import sys; from pathlib import Path; from ketch.audit.scan import AuditOptions, audit_path; "
         "audit_path(Path(sys.argv[1]), AuditOptions(), checks=[])")


def corpus() -> list[tuple[str, bytes]]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for path in sorted(lib.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            files.append((str(path.relative_to(lib)), path.read_bytes()))
        except OSError:
            continue
    return files


def build_map(dest: Path, files: list[tuple[str, bytes]], target: int = 60_000_000) -> int:
    sources, contents, total = [], [], 0
    for i, (name, data) in enumerate(files * 4):
        if total >= target:
            break
        sources.append(f"webpack://app/src/{i // len(files)}/{name.replace('.py', '.ts')}")
        contents.append(data.decode("utf-8", "replace"))
        total += len(data)
    doc = {"version": 3, "file": "cli.js", "sources": sources, "sourcesContent": contents,
           "names": [], "mappings": "AAAA;" * 1000}
    dest.write_text(json.dumps(doc))
    return dest.stat().st_size


def build_wheel(dest: Path, files: list[tuple[str, bytes]], target: int = 200_000_000) -> int:
    rng = random.Random(14)
    total = 0
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as wheel:
        i = 0
        while total < target:
            name, data = files[i % len(files)]
            if i % 400 == 399:  # now and then a data file and an opaque binary, as real wheels have
                data = json.dumps([{"id": n, "name": f"item{n}", "score": rng.random()} for n in range(20_000)]).encode()
                name = f"data_{i}.json"
                wheel.writestr(f"bigpkg/_bin/blob_{i}.so", b"\x7fELF" + rng.randbytes(2_000_000))
                total += 2_000_004
            wheel.writestr(f"bigpkg/{i // len(files)}/{name}", data)
            total += len(data)
            i += 1
        wheel.writestr("bigpkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        wheel.writestr("bigpkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bigpkg\nVersion: 1.0\n")
    return total


def build_folder(dest: Path, files: list[tuple[str, bytes]], count: int = 10_000) -> int:
    total = 0
    for i in range(count):
        name, data = files[i % len(files)]
        data = data[:8000]
        path = dest / f"d{i // 500}" / f"{i}_{Path(name).name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        total += len(data)
    return total


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # detect-secrets exits 0; ketch 0 with --fail-on never
        raise SystemExit(f"{argv[:3]} failed: {proc.stderr.read().decode()[-400:] if proc.stderr else ''}")
    return elapsed, usage.ru_maxrss / 1024


def build(work: Path) -> None:
    """Write the three inputs (and the wheel unpacked, for detect-secrets) into `work`, and their
    uncompressed sizes into sizes.json. Runs in its own process: see the module docstring."""
    files = corpus()
    sizes = {"map": build_map(work / "cli.js.map", files),
             "wheel": build_wheel(work / "bigpkg-1.0-py3-none-any.whl", files)}
    (work / "folder").mkdir()
    sizes["folder"] = build_folder(work / "folder", files)
    with zipfile.ZipFile(work / "bigpkg-1.0-py3-none-any.whl") as wheel:
        wheel.extractall(work / "wheel-unpacked")
    (work / "sizes.json").write_text(json.dumps(sizes))


def per_check() -> None:
    """Each default check alone over 15 MB of the corpus as one piece, best of three, in-process:
    which check costs what (the table above says what the whole audit costs)."""
    from ketch.audit.model import ArtifactInfo, Piece
    from ketch.audit.scan import AuditOptions, default_checks

    data = b"".join(d for _, d in corpus())[:15_000_000]
    info = ArtifactInfo(name="corpus")
    print("\n| check (15 MB of stdlib source, one piece) | ms | MB/s |\n|---|---|---|")
    total = 0.0
    for check in default_checks(AuditOptions()):
        best = min(_visit_once(type(check), data, info, Piece) for _ in range(3))
        total += best
        print(f"| {type(check).__name__} | {best * 1000:.1f} | {len(data) / best / 1e6:,.0f} |")
    print(f"| all | {total * 1000:.1f} | {len(data) / total / 1e6:,.0f} |")


def _visit_once(kind: type, data: bytes, info: object, piece: type) -> float:
    check = kind()
    started = time.perf_counter()
    check.visit(piece("pkg/corpus.py", data, 0, len(data), True), info)
    return time.perf_counter() - started


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="ketch-bench-audit-"))
    try:
        subprocess.run([sys.executable, __file__, "--build", str(work)], check=True)
        sizes = json.loads((work / "sizes.json").read_text())
        paths = {"map": work / "cli.js.map", "wheel": work / "bigpkg-1.0-py3-none-any.whl", "folder": work / "folder"}
        inputs = {name: (paths[name], int(sizes[name])) for name in ("map", "wheel", "folder")}
        unpacked = work / "wheel-unpacked"
        detect = shutil.which("detect-secrets") if DETECT else None
        sides: dict[str, list[str] | None] = {"floor": [sys.executable, "-c", FLOOR],
                                              "ketch": [sys.executable, "-m", "ketch", "audit"],
                                              "detect-secrets": [detect, "scan", "--all-files"] if detect else None}
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_ in range(ROUNDS):
            order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
            for name, (path, _) in inputs.items():
                for side in order:
                    argv = sides[side]
                    if argv is None or (side == "detect-secrets" and round_ > 0):  # ~0.5 MB/s: once is minutes
                        continue
                    target = unpacked if side == "detect-secrets" and name == "wheel" else path
                    extra = ["--format", "json", "--fail-on", "never"] if side == "ketch" else []
                    results.setdefault((name, side), []).append(timed([*argv, str(target), *extra]))
        status = report(inputs, results, detect is not None)
        subprocess.run([sys.executable, __file__, "--checks"], check=True)
        return status
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(inputs: dict[str, tuple[Path, int]], results: dict[tuple[str, str], list[tuple[float, float]]],
           have_detect: bool) -> int:
    load = os.getloadavg()[0]
    print(f"`ketch audit` throughput, median of {ROUNDS} rounds, 1 process each (load average {load:.2f})\n")
    print("| input | uncompressed | side | seconds | MB/s | × floor | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    missed: list[str] = []
    for name, (_, size) in inputs.items():
        floor = statistics.median(t for t, _ in results[(name, "floor")])
        for side in ("floor", "ketch", "detect-secrets"):
            runs = results.get((name, side))
            if not runs:
                continue
            secs = statistics.median(t for t, _ in runs)
            rss = max(r for _, r in runs)
            rate = size / secs / 1e6
            print(f"| {name} | {size / 1e6:,.1f} MB | {side} | {secs:.2f} | {rate:,.1f} | {secs / floor:.2f} | {rss:.0f} |")
            if side == "ketch":
                if name == "map" and secs > 3:
                    missed.append(f"60 MB map in {secs:.2f} s > 3 s")
                if rate < 50 and name != "folder":
                    missed.append(f"{name}: {rate:.1f} MB/s < 50")
                if rss > 150:
                    missed.append(f"{name}: peak RSS {rss:.0f} MB > 150")
    if not have_detect:
        print("\n(detect-secrets left out: BENCH_AUDIT_DETECT=0, or not installed: `pip install detect-secrets`)")
    for line in missed:
        print(f"\nMISSED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        build(Path(sys.argv[2]))
        sys.exit(0)
    if sys.argv[1:2] == ["--checks"]:
        per_check()
        sys.exit(0)
    sys.exit(main())
