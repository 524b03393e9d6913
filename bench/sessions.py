"""Session store benchmarks (issue 5): run `python bench/sessions.py` from the repo root.

Measures, on the disk that holds the temp folder (set TMPDIR to measure another one):
  - the time to append one tool turn (the model's reply with a Read call, then a ~2 kB
    result: two records, one fsync, one summary rewrite) as a session grows to 1,000
    turns, as the median of the 10 turns ending at turn 10, 100 and 1,000; it must stay flat
  - the same without fsync, to show what durability costs
  - resuming a 1,000-turn session: rebuilding the conversation in process
    (`session_load.load_session`), and end to end `ketch -c -p hi` against the instant fake
    server next to a fresh `ketch -p hi` (the difference includes sending the whole
    history to the server, which any resume must do)
  - what listing and search cost on that session: the summary read, a full summary rebuild
    (no summary file), and a search for a word that is not there (a full scan)
Prints a Markdown table; numbers go into BENCHMARKS.md by hand, with the machine noted.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from fakeserver import FakeModelServer
from run import base_env, ketch_argv, timed_run

from ketch.agent import events as ev
from ketch.agent.sessions.index import meta_path, read_info
from ketch.agent.sessions.load import load_session
from ketch.agent.sessions.search import search_transcript
from ketch.agent.sessions.transcript import TranscriptWriter, transcript_path
from ketch.conversation import Message, TextBlock, ToolResultBlock, ToolUseBlock, Usage

TURNS = 1000
MARKS = (10, 100, 1000)
WINDOW = 10
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
RESULT = "".join(f"{n:>6}\tline {n} of a source file that the model asked to read, as Read returns it\n"
                 for n in range(1, 26))  # ~2 kB, like a small file read


def turn_events(n: int) -> list[object]:
    """The events one tool turn writes: the reply with its call, then the call's result."""
    call = ToolUseBlock(f"toolu_{n:05d}", "Read", {"file_path": f"src/module_{n % 50}.py"})
    reply = Message("assistant", [TextBlock(f"Turn {n}: let me read module {n % 50}."), call])
    return [ev.AssistantMessage(reply, f"msg_{n}", "claude-sonnet-4-5", "tool_use", Usage(1200, 40)),
            ev.ToolResults(Message("user", [ToolResultBlock(call.id, RESULT)]))]


def grow_session(path: Path, workspace: Path, durable: bool) -> list[float]:
    """Write a TURNS-turn session; return the seconds each turn's append took."""
    writer = TranscriptWriter(path, redact=lambda text: text, durable=durable)
    writer.on_event(ev.SessionStarted(path.stem, "claude-sonnet-4-5", "anthropic", str(workspace), ["Read"], "default"))
    writer.on_event(ev.UserPrompt("refactor the modules one by one"))
    times = []
    for n in range(1, TURNS + 1):
        events = turn_events(n)
        t0 = time.perf_counter()
        for event in events:
            writer.on_event(event)
        times.append(time.perf_counter() - t0)
    writer.on_event(ev.AssistantMessage(Message("assistant", [TextBlock("All modules refactored.")]), "msg_end",
                                        "claude-sonnet-4-5", "end_turn", Usage(1200, 40)))
    writer.close()
    return times


def at_marks(times: list[float]) -> list[float]:
    return [statistics.median(times[mark - WINDOW: mark]) for mark in MARKS]


def median_time(fn, runs: int = RUNS) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def end_to_end(home: Path, cwd: Path) -> tuple[float, float]:
    """Median wall time of `ketch -p hi` (fresh) and `ketch -c -p hi` (the 1,000-turn session)."""
    server = FakeModelServer([{"text": "ok"}], repeat_last=True).start()
    # No auto-compaction: measure resuming the whole 1,000-turn history, every run.
    env = {**base_env(str(home)), "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-bench",
           "KETCH_AUTOCOMPACT_PCT": "off"}
    argv = ketch_argv() + ["--model", "claude-sonnet-4-5"]
    fresh, resumed = [], []
    try:
        for _ in range(RUNS):
            resumed.append(timed_run(argv + ["-c", "-p", "hi"], env, str(cwd))[0])
            # A fresh run becomes the folder's latest session: run it in a sibling folder.
            fresh.append(timed_run(argv + ["-p", "hi"], env, str(cwd.parent))[0])
        sizes = [len(r.body["messages"]) for r in server.requests]
    finally:
        server.stop()
    if len(sizes) != 2 * RUNS or min(sizes[0::2]) < 2 * TURNS:
        raise SystemExit(f"bench: expected one request per run, each resume carrying the whole history; got {sizes}")
    return statistics.median(fresh), statistics.median(resumed)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="ketch-bench-") as tmp:
        home, workspace = Path(tmp) / "home", Path(tmp) / "work" / "project"
        workspace.mkdir(parents=True)
        workspace = Path(os.path.realpath(workspace))
        durable_path = transcript_path(home, workspace, str(uuid.uuid4()))
        durable = at_marks(grow_session(durable_path, workspace, durable=True))
        scratch = Path(tmp) / "scratch" / f"{uuid.uuid4()}.jsonl"
        no_fsync = at_marks(grow_session(scratch, workspace, durable=False))

        size_mb = durable_path.stat().st_size / 1e6
        load_s = median_time(lambda: load_session(durable_path))
        messages = len(load_session(durable_path).messages)
        summary_s = median_time(lambda: read_info(durable_path))
        meta = meta_path(durable_path)
        saved = meta.read_bytes()
        meta.unlink()
        rebuild_s = median_time(lambda: read_info(durable_path))
        meta.write_bytes(saved)
        search_s = median_time(lambda: list(search_transcript(durable_path, "zebra-never-said")))
        fresh_s, resumed_s = end_to_end(home, workspace)

    ms = lambda s: f"{s * 1000:.2f} ms"
    print(f"python {sys.version.split()[0]}; {os.cpu_count()} cores; temp folder on "
          f"{tempfile.gettempdir()}; medians ({RUNS} runs, or {WINDOW} turns per mark)")
    print("| what | at 10 turns | at 100 turns | at 1,000 turns |\n|---|---|---|---|")
    print("| append one tool turn (2 records, fsync, summary) | " + " | ".join(ms(t) for t in durable) + " |")
    print("| the same without fsync | " + " | ".join(ms(t) for t in no_fsync) + " |")
    print()
    print(f"| a 1,000-turn session ({size_mb:.1f} MB, {messages} messages) | time |\n|---|---|")
    print(f"| resume in process: rebuild the conversation | {ms(load_s)} |")
    print(f"| `ketch -c -p hi` end to end (fresh `ketch -p hi`: {ms(fresh_s)}) | {ms(resumed_s)} |")
    print(f"| list: read its summary | {ms(summary_s)} |")
    print(f"| list without a summary file (rebuilt from the transcript) | {ms(rebuild_s)} |")
    print(f"| search a word that is not there (full scan) | {ms(search_s)} |")


if __name__ == "__main__":
    main()
