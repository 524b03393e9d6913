"""Precision and recall of `ketch audit`: its credentials check on the labelled files beside
detect-secrets, then every kind of finding on the labelled artifacts.

    python bench/audit_labelled.py [--speed JS_FILE]

The labelled set is tests/data/audit/labelled/secrets/ (fake keys filled in at run time). ketch's
findings above low count, per (file, rule) and per file; detect-secrets (if importable; it is not a
dependency: `pip install detect-secrets` to compare) is scored per file, its rule names being
other than ours. With `--speed`, MB/s of SecretsCheck on 20 MB made of JS_FILE repeated (a real
minified bundle), fed in 1 MiB windows as the reader does.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests" / "fakes"), str(ROOT / "tests" / "audit" / "checks")]

from labelled_secrets import materialize, score, score_files
from test_secrets_labelled import found_by_ketch

from ketch.audit.checks.secrets import SecretsCheck
from ketch.audit.model import OVERLAP, ArtifactInfo, Piece


def detect_secrets_found(folder: Path, labels: dict[str, list[str]]) -> tuple[dict[str, set[str]], float] | None:
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError:
        return None
    secrets = SecretsCollection()
    start = time.perf_counter()
    with default_settings():
        for name in labels:
            secrets.scan_file(str(folder / name))
    elapsed = time.perf_counter() - start
    found: dict[str, set[str]] = {}
    for filename, secret in secrets:
        found.setdefault(Path(filename).name, set()).add(secret.type)
    return found, elapsed


def speed(js: Path, total: int = 20_000_000, window: int = 1 << 20) -> float:
    base = js.read_bytes()
    data = (base * (total // len(base) + 1))[:total]
    info = ArtifactInfo("bench")
    best = float("inf")
    for _ in range(3):
        check = SecretsCheck()
        start = time.perf_counter()
        offset = 0
        while True:
            check.visit(Piece("dist/cli.js", data[offset:offset + window], offset, len(data), False), info)
            if offset + window >= len(data):
                break
            offset += window - OVERLAP
        check.finish(info)
        best = min(best, time.perf_counter() - start)
    return len(data) / best / 1e6


def kinds_table(folder: Path) -> None:
    """Per kind of finding, over the labelled artifacts (tests/fakes/audit_labelled.py)."""
    from audit_labelled import labelled
    from audit_labelled import score as score_kinds

    from ketch.audit.model import Severity
    from ketch.audit.scan import AuditOptions, audit_path

    rows = []
    artifacts = folder / "artifacts"
    artifacts.mkdir()
    for label, path, want in labelled(artifacts):
        got = {f.kind.label for f in audit_path(path, AuditOptions()).findings if f.severity > Severity.LOW}
        rows.append((label, want, got))
    clean = sum(1 for _, want, _ in rows if not want)
    print(f"\nlabelled artifacts: {len(rows)} ({len(rows) - clean} with leaks, {clean} clean real packages); "
          "a finding counts above low")
    print("| kind | true positives | false positives | false negatives | precision | recall |")
    print("|---|---|---|---|---|---|")
    for kind, (tp, fp, fn) in score_kinds(rows).items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"| {kind} | {tp} | {fp} | {fn} | {precision:.2f} | {recall:.2f} |")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        labels = materialize(folder)
        size = sum((folder / n).stat().st_size for n in labels)
        positives = sum(1 for r in labels.values() if r)
        print(f"labelled set: {len(labels)} files ({positives} with credentials, {len(labels) - positives} clean), "
              f"{size / 1000:.0f} kB")
        start = time.perf_counter()
        found = found_by_ketch(folder, labels)
        elapsed = time.perf_counter() - start
        p, r = score(found, labels)
        fp, fr = score_files(found, labels)
        print(f"ketch SecretsCheck   per rule: precision {p:.3f} recall {r:.3f}; per file: precision {fp:.3f} "
              f"recall {fr:.3f}; {elapsed * 1000:.0f} ms")
        for name, rules in sorted(labels.items()):
            if found.get(name, set()) != set(rules):
                print(f"    {name}: labelled {sorted(rules)}, found {sorted(found.get(name, set()))}")
        other = detect_secrets_found(folder, labels)
        if other is None:
            print("detect-secrets       not installed (pip install detect-secrets to compare)")
        else:
            ds, ds_elapsed = other
            dp, dr = score_files(ds, labels)
            print(f"detect-secrets       per file: precision {dp:.3f} recall {dr:.3f}; {ds_elapsed * 1000:.0f} ms")
            for name, rules in sorted(labels.items()):
                if bool(ds.get(name)) != bool(rules):
                    print(f"    {name}: labelled {sorted(rules)}, found {sorted(ds.get(name, set()))}")
        kinds_table(folder)
    if "--speed" in argv:
        js = Path(argv[argv.index("--speed") + 1])
        print(f"SecretsCheck on 20 MB of {js.name} repeated: {speed(js):.0f} MB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
