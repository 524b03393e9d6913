"""Skills' prompt overhead (issue 13, DESIGN.md §6): run `python bench/skills.py` from the repo root.

The real `ketch -p hi` against the fake model server (tests/fakes/fakeserver.py), in a fresh
workspace with no skills and then with 20 skills in `.claude/skills` whose descriptions are
long (300+ characters, as many published skills' are: the cap is what is measured). HOME and
KETCH_HOME are empty folders, so only these skills count. Measured on the first request's
body as the server received it: the system prompt's growth, each skill's line in it
(budget: ≤ 40 tokens a skill, tokens estimated as bytes / 4, as bench/run.py does), the Skill
tool's definition, and the whole system + tools (budget: ≤ 20 kB). Also the start-up cost of
loading 20 skills: the round trip with and without, alternating (BENCH_RUNS rounds, default 15).

Prints a Markdown table and exits 1 when a budget is missed.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fakes"))
from fakeserver import FakeModelServer
from harness import ketch_argv

SKILLS = 20
LINE_BUDGET_TOKENS = 40
PROMPT_BUDGET_KB = 20.0
RUNS = int(os.environ.get("BENCH_RUNS", "15"))
MODEL = "claude-sonnet-4-5"


def _install(workspace: Path) -> None:
    for i in range(SKILLS):
        folder = workspace / ".claude" / "skills" / f"team-skill-{i:02d}"
        (folder / "scripts").mkdir(parents=True)
        description = (f"Use this skill when the task involves area {i} of the product: it explains the team's "
                       "conventions, the files to read first, the commands that check the work, and the mistakes "
                       "reviewers most often find, with worked examples for the common cases and the rare ones.")
        (folder / "SKILL.md").write_text(f"---\nname: team-skill-{i:02d}\ndescription: {description}\n---\n"
                                         + "Step by step instructions.\n" * 200)
        (folder / "scripts" / "check.sh").write_text("#!/bin/sh\nexit 0\n")


def _first_request(workspace: Path, env: dict[str, str]) -> tuple[dict, float]:
    server = FakeModelServer([{"text": "ok"}], repeat_last=True).start()
    try:
        run_env = {**env, "ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "sk-bench"}
        started = time.perf_counter()
        subprocess.run(ketch_argv() + ["--model", MODEL, "-p", "hi", "--output-format", "json"], cwd=workspace,
                       env=run_env, check=True, capture_output=True)
        return server.requests[0].body, time.perf_counter() - started
    finally:
        server.stop()


def _system(body: dict) -> str:
    system = body["system"]
    return system if isinstance(system, str) else "".join(b["text"] for b in system)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        plain, skilled = base / "plain", base / "skilled"
        for folder in (plain, skilled, base / "home", base / "ketch-home"):
            folder.mkdir()
        _install(skilled)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
        env.update({"HOME": str(base / "home"), "KETCH_HOME": str(base / "ketch-home"), "NO_COLOR": "1"})
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        times: dict[str, list[float]] = {"plain": [], "skilled": []}
        bodies: dict[str, dict] = {}
        for round_ in range(RUNS):
            order = ("plain", "skilled") if round_ % 2 == 0 else ("skilled", "plain")
            for name in order:
                body, seconds = _first_request(plain if name == "plain" else skilled, env)
                bodies[name] = body
                times[name].append(seconds)
    before, after = _system(bodies["plain"]), _system(bodies["skilled"])
    lines = [line for line in after.splitlines() if line.startswith("- team-skill-")]
    per_line = [len(line.encode()) / 4 for line in lines]
    growth = len(after.encode()) - len(before.encode())
    skill_tool = next(t for t in bodies["skilled"]["tools"] if t["name"] == "Skill")
    tool_bytes = len(json.dumps(skill_tool).encode())
    fixed = len(json.dumps({"system": bodies["skilled"]["system"], "tools": bodies["skilled"]["tools"]}).encode())
    fixed_plain = len(json.dumps({"system": bodies["plain"]["system"], "tools": bodies["plain"]["tools"]}).encode())
    t_plain, t_skilled = statistics.median(times["plain"]), statistics.median(times["skilled"])
    ok_lines = len(lines) == SKILLS and max(per_line) <= LINE_BUDGET_TOKENS
    ok_total = fixed / 1000 <= PROMPT_BUDGET_KB
    print(f"rounds: {RUNS} (alternating, medians); python {sys.version.split()[0]}; {os.cpu_count()} cores; "
          f"load {os.getloadavg()[0]:.2f}")
    print("| what | budget | measured | ok |\n|---|---|---|---|")
    print(f"| system prompt growth, {SKILLS} skills | — | {growth} B / ~{growth // 4} tokens "
          f"(~{growth / 4 / SKILLS:.1f} a skill, the section's header included) | |")
    print(f"| one skill's line | ≤ {LINE_BUDGET_TOKENS} tokens | max {max(per_line):.1f}, median "
          f"{statistics.median(per_line):.1f} tokens | {'yes' if ok_lines else 'NO'} |")
    print(f"| the Skill tool's definition | — | {tool_bytes} B / ~{tool_bytes // 4} tokens | |")
    print(f"| first request, system + tools | ≤ {PROMPT_BUDGET_KB:.0f} kB | {fixed / 1000:.1f} kB with {SKILLS} skills, "
          f"{fixed_plain / 1000:.1f} kB without | {'yes' if ok_total else 'NO'} |")
    print(f"| headless round trip (`-p hi`) | — | {t_skilled * 1000:.1f} ms with {SKILLS} skills, "
          f"{t_plain * 1000:.1f} ms without ({(t_skilled - t_plain) * 1000:+.1f} ms) | |")
    return 0 if ok_lines and ok_total else 1


if __name__ == "__main__":
    sys.exit(main())
