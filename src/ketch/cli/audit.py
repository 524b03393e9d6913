"""`ketch audit TARGET...`: what a package would disclose if published, said in proportion.

Exit status for CI: 0 when nothing reaches `--fail-on` (default high), 1 when something does,
2 when the input cannot be audited at all (one line that says what to fix).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ketch.errors import EXIT_FAILED, EXIT_OK, AuditError, KetchError

if TYPE_CHECKING:
    from ketch.audit.diff import Change
    from ketch.audit.extract import Extractor
    from ketch.audit.model import Finding, Severity
    from ketch.audit.scan import AuditOptions, Report

_CONFIG = Path(".ketch") / "audit.json"
USAGE_EXAMPLES = """\
examples:
  ketch audit dist/mypkg-1.2.0-py3-none-any.whl     a wheel, sdist, npm .tgz, .zip, folder or docker-save .tar
  ketch audit npm:@scope/pkg@2.1.88 --against npm:@scope/pkg@2.1.87
  ketch audit pypi:somepkg==3.0 --format sarif > audit.sarif
  ketch audit . --git                               the repository's history too
  ketch audit pkg.tgz --extract /tmp/what-they-see  rebuild the original source an outsider can rebuild

config: .ketch/audit.json (or --config FILE):
  {"failOn": "medium", "publicFlags": ["NEW_UI"], "ignore": [{"rule": "weights/*", "path": "*.gguf"}]}
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ketch audit", description="What a package artifact would disclose if "
                                "published: original source in source maps, unreleased flag names, credentials, "
                                "model weights, files that should not ship.", epilog=USAGE_EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("targets", nargs="*", metavar="TARGET", help="a file, a folder, npm:NAME@VERSION or pypi:NAME==VERSION")
    p.add_argument("--against", metavar="TARGET", help="the previous release: report what this one adds")
    p.add_argument("--format", choices=["terminal", "json", "markdown", "sarif"], default="terminal")
    p.add_argument("--fail-on", metavar="LEVEL", help="exit 1 on a finding at this level or above: critical, high "
                   "(default), medium, low, info, or never")
    p.add_argument("--public", metavar="FILE", help="flag names the team has announced, one per line (or a JSON list)")
    p.add_argument("--config", metavar="FILE", help=f"audit settings (default: {_CONFIG} if present)")
    p.add_argument("--git", action="store_true", help="a folder's git history too: blobs no longer in the work tree")
    p.add_argument("--extract", metavar="DIR", help="write the original sources the maps carry into DIR (new or empty)")
    p.add_argument("--many", metavar="LIST", help="audit every target listed in LIST (a file, or - for stdin), on every core")
    p.add_argument("--jobs", type=int, metavar="N", help="processes for --many (default: every core)")
    p.add_argument("--all", action="store_true", help="show info-level findings too (terminal)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    return p


def main(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    try:
        return _run(args)
    except KetchError as exc:
        print(f"ketch audit: {exc}", file=sys.stderr)
        return exc.exit_status


def _run(args: argparse.Namespace) -> int:
    from ketch.audit.fetch import private_folder

    targets = list(args.targets) + (_listed(args.many) if args.many else [])
    if not targets:
        raise AuditError("nothing to audit: give a file, a folder, npm:NAME@VERSION or pypi:NAME==VERSION")
    options, fail_on = _options(args)
    with private_folder() as scratch:
        resolved = [_resolve(t, Path(scratch)) for t in targets]
        flat = [pair for group in resolved for pair in group]
        if args.extract:
            reports = [_audit_extracting(path, name, options, Path(args.extract)) for name, path in flat]
        else:
            reports = _audit_all(flat, options, args.jobs if args.many else 1)
        changes: list[Change] = []
        if args.against:
            from ketch.audit.diff import compare, findings_of

            before = [r for name, path in _resolve(args.against, Path(scratch)) for r in _audit_all([(name, path)], options, 1)]
            for previous, current in zip(before, reports):
                change = compare(previous, current)
                changes.append(change)
                current.findings = sorted(current.findings + findings_of(change), key=lambda f: f.sort_key())
    _write(args, reports, changes)
    worst = max((f.severity for r in reports for f in r.findings), default=None)
    return EXIT_FAILED if fail_on is not None and worst is not None and worst >= fail_on else EXIT_OK


def _resolve(target: str, scratch: Path) -> list[tuple[str, Path]]:
    from ketch.audit.fetch import fetch, is_spec

    if is_spec(target):
        return [(f.spec, f.path) for f in fetch(target, scratch)]
    path = Path(target)
    if not path.exists():
        raise AuditError(f"{target}: no such file or folder (remote packages are npm:NAME@VERSION or pypi:NAME==VERSION)")
    return [(target, path)]


def _audit_all(targets: list[tuple[str, Path]], options: AuditOptions, jobs: int | None) -> list[Report]:
    from ketch.audit.scan import audit_path

    if len(targets) <= 1 or jobs == 1:
        return [audit_path(path, options, name=name) for name, path in targets]
    import os
    from concurrent.futures import ProcessPoolExecutor

    workers = min(len(targets), jobs or os.cpu_count() or 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(audit_path, path, options, name=name) for name, path in targets]
        return [f.result() for f in futures]


def _audit_extracting(path: Path, name: str, options: AuditOptions, dest: Path) -> Report:
    from ketch.audit.extract import Extractor
    from ketch.audit.scan import audit_path, default_checks

    extractor = Extractor(dest)
    try:
        report = audit_path(path, options, name=name, checks=[*default_checks(options), _MapSources(extractor)])
    finally:
        extractor.close()
    summary = extractor.summary()
    print(f"ketch audit: wrote {summary.files:,} original source file{'s' if summary.files != 1 else ''} "
          f"({summary.bytes:,} bytes) to {dest}",
          file=sys.stderr)
    return report


class _MapSources:
    """A check that writes the original sources the source-map check decodes, for --extract, as they come."""

    def __init__(self, extractor: Extractor) -> None:
        self.extractor = extractor
        self._seen: set[tuple[str, bytes]] = set()

    def entry(self, entry: object, info: object) -> None:
        return None

    def visit(self, piece: object, info: object) -> None:
        from ketch.audit.model import Piece

        if isinstance(piece, Piece) and piece.origin == "map":
            import hashlib

            source = piece.path.split("#", 1)[-1]
            key = (source, hashlib.sha256(piece.data).digest())
            if key not in self._seen:  # the same file in several maps (.js, .mjs, .umd.js) is written once
                self._seen.add(key)
                self.extractor.add(source, piece.data)

    def finish(self, info: object) -> list[Finding]:
        return []


def _options(args: argparse.Namespace) -> tuple[AuditOptions, Severity | None]:
    from ketch.audit.model import Severity
    from ketch.audit.scan import AuditOptions, Ignore

    config = _read_config(Path(args.config) if args.config else _CONFIG, explicit=bool(args.config))
    public = {str(n) for n in config.get("publicFlags", [])}
    if args.public:
        public |= _public_names(Path(args.public))
    ignore = tuple(Ignore(rule=str(i.get("rule", "*")), path=str(i.get("path", "*")))
                   for i in config.get("ignore", []) if isinstance(i, dict))
    level = str(args.fail_on or config.get("failOn") or "high")
    try:
        fail_on = None if level == "never" else Severity.parse(level)
    except ValueError as exc:
        raise AuditError(f"--fail-on: {exc} (or never)") from None
    return AuditOptions(public_flags=frozenset(public), ignore=ignore, history=args.git), fail_on


def _read_config(path: Path, *, explicit: bool) -> dict[str, list[object] | str]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        if explicit:
            raise AuditError(f"--config {path}: no such file") from None
        return {}
    except (OSError, ValueError) as exc:
        raise AuditError(f"{path}: not valid JSON ({exc}); fix it or pass --config") from None
    if not isinstance(doc, dict):
        raise AuditError(f'{path}: expected an object such as {{"failOn": "medium", "publicFlags": [...]}}')
    for key in ("publicFlags", "ignore"):
        if key in doc and not isinstance(doc[key], list):
            raise AuditError(f"{path}: {key!r} must be a list")
    return doc


def _public_names(path: Path) -> set[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise AuditError(f"--public {path}: {exc.strerror or exc}") from None
    if text.lstrip().startswith("["):
        try:
            return {str(n) for n in json.loads(text)}
        except ValueError:
            raise AuditError(f"--public {path}: not a JSON list of names") from None
    return {line.split("#", 1)[0].strip() for line in text.splitlines()} - {""}


def _listed(source: str) -> list[str]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise AuditError(f"--many {source}: {exc.strerror or exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _write(args: argparse.Namespace, reports: list[Report], changes: list[Change]) -> None:
    from ketch.audit import formats
    from ketch.audit.model import Severity
    from ketch.audit.report import render_terminal

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        if args.format == "json":
            out.write(formats.to_json(reports, changes))
        elif args.format == "markdown":
            out.write(formats.to_markdown(reports, changes))
        elif args.format == "sarif":
            out.write(formats.to_sarif(reports))
        else:
            render_terminal(reports, changes, out, colour=out.isatty(),
                            show_below=Severity.INFO if args.all else Severity.LOW)
    finally:
        if out is not sys.stdout:
            out.close()
