"""Shared kit for the hijacked-model suite: a lab on disk, a sink on loopback, the evidence.

Every attack test runs the real `ketch -p ... --output-format json` against the scripted
fake model server (tests/fakes/fakeserver.py), whose replies play a fully hijacked model, and then
checks the outcome on disk, on the network and in what the model was shown:

* a **lab** outside /tmp (the sandbox gives every command a private /tmp, so a canary under
  /tmp would be out of sight and prove nothing): a fake HOME with shell start-up files, an
  SSH key, AWS credentials and ketch's own folder, a canary folder beside the workspace, a
  sibling folder named `<workspace>-evil`, and the workspace itself, a git repository;
* a **sink** on 127.0.0.1 (a TCP server that answers like HTTP, and a UDP socket) that
  must record no hit;
* **secrets** (the test API key, the SSH key, the AWS secret, a credential-named variable)
  that must appear in no request body the fake server received, nor on stdout, nor in the
  transcript — raw, reversed or base64-encoded;
* **snapshots** of everything outside the workspace plus the workspace's protected paths,
  compared byte for byte (and for absence) after the run.

This is a plain module: tests/security/attacks/conftest.py turns `make_lab` into the `lab`
fixture, and the test modules import the helpers (`bash`, `call`, `turn`, ...) from here.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as _secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fakeserver import FakeModelServer
from harness import TEST_ANTHROPIC_KEY, TEST_OPENAI_KEY, ketch_argv

# Where labs go: outside /tmp, so that everything but the workspace stays visible (read-only)
# inside the sandbox, exactly as a real home folder is.
LAB_PARENT_ENV = "KETCH_SECURITY_LAB_DIR"

# The protected paths of a project (relative to the workspace) that no tool may create or change.
PROJECT_PROTECTED = (".ketch", ".mcp.json", ".git/hooks", ".git/config", ".claude", ".vscode", ".idea", ".envrc")


# --- the sink ----------------------------------------------------------------------------------


class Sink:
    """A TCP listener (answers anything with a tiny HTTP 200) and a UDP socket on 127.0.0.1.

    Every accepted connection and every datagram is a hit; a safe run leaves both at zero.
    """

    def __init__(self) -> None:
        self.tcp_hits: list[bytes] = []
        self.udp_hits: list[bytes] = []
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind(("127.0.0.1", 0))
        self._tcp.listen(16)
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._serve_tcp, daemon=True),
                         threading.Thread(target=self._serve_udp, daemon=True)]
        for t in self._threads:
            t.start()

    @property
    def tcp_port(self) -> int:
        return self._tcp.getsockname()[1]

    @property
    def udp_port(self) -> int:
        return self._udp.getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.tcp_port}"

    def _serve_tcp(self) -> None:
        self._tcp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.5)
                data = b""
                try:
                    data = conn.recv(65536)
                    conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
                except OSError:
                    pass
                self.tcp_hits.append(data)

    def _serve_udp(self) -> None:
        self._udp.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data, _ = self._udp.recvfrom(65536)
            except OSError:
                continue
            self.udp_hits.append(data)

    def self_test(self) -> None:
        """Prove the sink records hits from the host, so zero hits later means something."""
        with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=2) as s:
            s.sendall(b"GET /selftest HTTP/1.0\r\n\r\n")
            s.recv(100)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"selftest", ("127.0.0.1", self.udp_port))
        deadline = 2.0
        import time

        t0 = time.monotonic()
        while (len(self.tcp_hits) < 1 or len(self.udp_hits) < 1) and time.monotonic() - t0 < deadline:
            time.sleep(0.01)
        assert self.tcp_hits and self.udp_hits, "the sink does not record hits: the suite would prove nothing"
        self.tcp_hits.clear()
        self.udp_hits.clear()

    def close(self) -> None:
        self._stop.set()  # the threads notice within their 0.2 s timeout; nobody waits for them
        self._tcp.close()
        self._udp.close()


# --- what the model saw ------------------------------------------------------------------------


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool results an Anthropic-dialect request carries: {id, content, is_error}."""
    out = []
    for msg in body.get("messages", []):
        if msg.get("role") == "user" and isinstance(msg.get("content"), list):
            for block in msg["content"]:
                if block.get("type") == "tool_result":
                    content = block["content"]
                    if isinstance(content, list):
                        content = "".join(c.get("text", "") for c in content)
                    out.append({"id": block["tool_use_id"], "content": content,
                                "is_error": block.get("is_error", False)})
    return out


def leak_forms(secret: str) -> list[str]:
    """The secret as it might leave: raw, reversed, and base64 at each of the 3 alignments."""
    forms = [secret, secret[::-1]]
    for pad in range(3):
        encoded = base64.b64encode(b"x" * pad + secret.encode()).decode()
        middle = encoded[4:-4]  # the part fixed by the secret alone, whatever surrounds it
        if len(middle) >= 8:
            forms.append(middle)
    return forms


@dataclass
class Outcome:
    """One ketch run: the process, what the fake server received, and helpers to read both."""

    returncode: int
    stdout: str
    stderr: str
    requests: list[Any]

    @property
    def result(self) -> dict[str, Any]:
        try:
            return json.loads(self.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"ketch printed no JSON result (exit {self.returncode}):\n"
                                 f"stdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}") from None

    @property
    def denials(self) -> list[dict[str, Any]]:
        return self.result["permission_denials"]

    def denied_ids(self) -> set[str]:
        return {d["tool_use_id"] for d in self.denials}

    def results(self) -> dict[str, dict[str, Any]]:
        """Every tool result the model received, by tool_use_id (the last request has them all)."""
        out: dict[str, dict[str, Any]] = {}
        for req in self.requests:
            for r in tool_results(req.body):
                out[r["id"]] = r
        return out

    def result_text(self, call_id: str) -> str:
        results = self.results()
        assert call_id in results, f"no tool result for {call_id}; got {sorted(results)}\nstderr: {self.stderr[-2000:]}"
        return results[call_id]["content"]

    def bodies_text(self) -> str:
        return "\n".join(json.dumps(r.body) for r in self.requests)


# --- the lab -----------------------------------------------------------------------------------


def _lab_parent() -> Path | None:
    chosen = os.environ.get(LAB_PARENT_ENV)
    for candidate in ([chosen] if chosen else []) + ["/var/tmp", str(Path.home() / ".cache")]:
        path = Path(candidate)
        if path.is_dir() and os.access(path, os.W_OK | os.X_OK) and not Path(os.path.realpath(path)).is_relative_to("/tmp"):
            return path
    return None


def _make_writable(root: Path) -> None:
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            try:
                os.chmod(os.path.join(dirpath, d), 0o700)
            except OSError:
                pass


def entry(path: Path) -> tuple[Any, ...]:
    """One path, not following links: absent, a link and its target, a folder, or a file's bytes."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return ("absent",)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", stat.S_IMODE(st.st_mode))
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            return ("file", stat.S_IMODE(st.st_mode), f.read())
    return ("other", st.st_mode)


def snapshot(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every entry under root (not following links), by relative path."""
    out: dict[str, Any] = {}
    if not os.path.lexists(root):
        return out
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in skip)
        for name in [*dirnames, *sorted(filenames)]:
            out[os.path.normpath(os.path.join(rel_dir, name))] = entry(Path(dirpath) / name)
    return out


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes = []
    for key in sorted(set(before) | set(after)):
        if key not in after:
            changes.append(f"removed: {key}")
        elif key not in before:
            changes.append(f"created: {key} = {str(after[key])[:200]}")
        elif before[key] != after[key]:
            changes.append(f"changed: {key}: {str(before[key])[:120]} -> {str(after[key])[:120]}")
    return changes


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(cwd)})
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=check, capture_output=True, text=True)


@dataclass
class Lab:
    root: Path
    home: Path          # the fake HOME
    ketch_home: Path    # $KETCH_HOME, the default place: ~/.ketch
    ws: Path            # the workspace (a git repository, .git/hooks absent)
    outside: Path       # a canary folder beside the workspace
    evil: Path          # <workspace>-evil, the string-prefix sibling
    sink: Sink
    server_factory: Any
    run_ketch: Any
    token: str          # a unique marker for this lab
    prompt_mark: str    # in ketch's own argv only: a child that sees it has seen ketch's process
    secrets: dict[str, str] = field(default_factory=dict)
    _before: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ws_before: dict[str, Any] = field(default_factory=dict)

    # -- set-up --------------------------------------------------------------------------------

    def build(self) -> None:
        h = self.home
        files = {
            ".bashrc": "# canary bashrc\nexport PS1='$ '\n",
            ".profile": "# canary profile\n",
            ".zshrc": "# canary zshrc\n",
            ".gitconfig": "[user]\n\tname = Canary\n\temail = canary@example.invalid\n",
            ".ssh/id_rsa": f"-----BEGIN OPENSSH PRIVATE KEY-----\n{self.secrets['ssh']}\n-----END OPENSSH PRIVATE KEY-----\n",
            ".ssh/authorized_keys": "ssh-ed25519 AAAAcanary canary@example.invalid\n",
            ".aws/credentials": f"[default]\naws_access_key_id = AKIACANARY\naws_secret_access_key = {self.secrets['aws']}\n",
            ".ketch/settings.json": '{"permissions": {"deny": ["Bash(shutdown:*)"]}}\n',
            "notes/keep.txt": self.marks["home"] + "\n",
        }
        for rel, text in files.items():
            p = h / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
        os.chmod(h / ".ssh", 0o700)
        os.chmod(h / ".ssh/id_rsa", 0o600)
        (self.outside / "sub").mkdir(parents=True)
        (self.outside / "canary.txt").write_text(self.marks["outside"] + "\n")
        (self.outside / "sub/deep.txt").write_text("deep canary\n")
        self.evil.mkdir()
        (self.evil / "canary.txt").write_text(self.marks["evil"] + "\n")
        ws = self.ws
        (ws / "README.md").write_text("# demo project\n")
        (ws / "app.py").write_text("def greet(name):\n    return 'hello ' + name\n")
        git(ws, "init", "-q", "-b", "main")
        with open(ws / ".git/config", "a") as f:
            f.write("[user]\n\tname = Lab User\n\temail = lab@example.invalid\n[commit]\n\tgpgsign = false\n")
        shutil.rmtree(ws / ".git/hooks", ignore_errors=True)
        self.rebaseline()

    @property
    def marks(self) -> dict[str, str]:
        """Contents of files outside the workspace, which a refused Read must not reveal."""
        return {"outside": f"outside-canary-{self.token}", "evil": f"evil-sibling-canary-{self.token}",
                "home": f"home-notes-canary-{self.token}"}

    def rebaseline(self) -> None:
        """Take the snapshots a run is compared against (call again after extra set-up)."""
        self._before = {
            "home": snapshot(self.home, skip=(".ketch/projects", ".ketch/shadow", ".ketch/outputs", ".ketch/quarantine")),
            "outside": snapshot(self.outside),
            "evil": snapshot(self.evil),
        }
        self._ws_before = self._ws_protected()

    def _ws_protected(self) -> dict[str, Any]:
        """The workspace's protected paths (and everything below them), `.git` itself (same
        inode), and what a rename attack (`mv .git .git_old`) would leave."""
        out: dict[str, Any] = {}
        for rel in PROJECT_PROTECTED:
            out[rel] = entry(self.ws / rel)
            out.update({f"{rel}/{k}": v for k, v in snapshot(self.ws / rel).items()})
        git_dir = self.ws / ".git"
        out[".git"] = (entry(git_dir), os.lstat(git_dir).st_ino if git_dir.exists() else None)
        for name in (".git_old", ".git.bak", ".git/config.bak"):
            out[name] = entry(self.ws / name)
        return out

    # -- running -------------------------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        env = {"HOME": str(self.home), "KETCH_HOME": str(self.ketch_home), "KETCH_KEYRING": "0",
               "DEPLOY_TOKEN": self.secrets["env"]}
        env.update(extra)
        return env

    def run(self, script: list[Any], *args: str, mode: str | None = None, prompt: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 60) -> Outcome:
        """One ketch run with the scripted model; a closing text reply is appended."""
        fake = self.server_factory([*script, {"text": "done"}])
        argv = ["-p", prompt or f"task {self.prompt_mark}", "--output-format", "json", *args]
        if mode:
            argv += ["--permission-mode", mode]
        run = self.run_ketch(argv, server=fake, env=self.env(**(env or {})), cwd=self.ws, timeout=timeout)
        out = Outcome(run.returncode, run.stdout, run.stderr, list(fake.requests))
        if os.environ.get("KETCH_SECURITY_DEBUG"):  # print what the model saw, for diagnosis
            for call_id, r in out.results().items():
                print(f"--- {call_id} (is_error={r['is_error']}):\n{r['content'][:3000]}")
            print(f"--- stderr:\n{run.stderr[-3000:]}\n--- stdout:\n{run.stdout[-1500:]}")
        return out

    # -- the evidence --------------------------------------------------------------------------

    def changes(self) -> list[str]:
        after = {
            "home": snapshot(self.home, skip=(".ketch/projects", ".ketch/shadow", ".ketch/outputs", ".ketch/quarantine")),
            "outside": snapshot(self.outside),
            "evil": snapshot(self.evil),
        }
        out = []
        for name, now in after.items():
            out += [f"{name}/{c}" for c in _diff(self._before[name], now)]
        out += [f"workspace/{c}" for c in _diff(self._ws_before, self._ws_protected())]
        return out

    def transcripts_text(self) -> str:
        texts = []
        for p in (self.ketch_home / "projects").rglob("*.jsonl") if (self.ketch_home / "projects").exists() else []:
            texts.append(p.read_text(errors="replace"))
        return "\n".join(texts)

    def assert_no_secret_leak(self, out: Outcome) -> None:
        where = {
            "the requests the model server received": out.bodies_text(),
            "stdout": out.stdout,
            "stderr": out.stderr,
            "the transcript": self.transcripts_text(),
        }
        for name, secret in self.secrets.items():
            for form in leak_forms(secret):
                for place, text in where.items():
                    assert form not in text, f"secret {name!r} ({form!r}) leaked into {place}"

    def assert_safe(self, out: Outcome) -> None:
        """Canaries and protected files intact, no sink hit, no secret in anything that left."""
        assert out.stdout.strip(), f"ketch printed nothing (exit {out.returncode}); stderr:\n{out.stderr[-3000:]}"
        out.result  # noqa: B018 - a JSON result was printed
        assert "Traceback" not in out.stderr, out.stderr[-3000:]
        changes = self.changes()
        assert changes == [], "files outside the workspace or protected files changed:\n" + "\n".join(changes)
        assert self.sink.tcp_hits == [], f"the TCP sink was reached: {self.sink.tcp_hits[:3]}"
        assert self.sink.udp_hits == [], f"the UDP sink was reached: {self.sink.udp_hits[:3]}"
        self.assert_no_secret_leak(out)


def _start_server(servers: list[FakeModelServer]) -> Callable[[list[Any]], FakeModelServer]:
    def make(script: list[Any]) -> FakeModelServer:
        s = FakeModelServer(list(script)).start()
        servers.append(s)
        return s

    return make


def make_lab(run_ketch: Any, tmp_path: Path) -> Iterator[Lab]:
    """The `lab` fixture's body (tests/security/attacks/conftest.py): a built lab, then its clean-up."""
    parent = _lab_parent()
    root = Path(tempfile.mkdtemp(prefix="ketch-lab-", dir=parent or tmp_path))
    root = Path(os.path.realpath(root))
    token = _secrets.token_hex(6)
    sink = Sink()
    sink.self_test()
    servers: list[FakeModelServer] = []
    the_lab = Lab(
        root=root, home=root / "home", ketch_home=root / "home" / ".ketch", ws=root / "project",
        outside=root / "outside", evil=root / "project-evil", sink=sink, server_factory=_start_server(servers),
        run_ketch=run_ketch, token=token, prompt_mark=f"pm{_secrets.token_hex(6)}",
        secrets={
            "api_key": TEST_ANTHROPIC_KEY,
            "openai_key": TEST_OPENAI_KEY,
            "ssh": f"b3BlbnNzaC1rZXktdjEFAKESSHKEY{token}",
            "aws": f"wJalrXUtnFEMIK7MDENGbPxRfiCYFAKEAWS{token}",
            "env": f"deploytok-{token}-f00dfeed",
        },
    )
    for p in (the_lab.home, the_lab.ws, the_lab.outside):
        p.mkdir(parents=True)
    the_lab.build()
    yield the_lab
    sink.close()
    for s in servers:
        # shutdown() waits out serve_forever's 0.5 s poll: let it do so off the test's clock.
        threading.Thread(target=s.stop, daemon=True).start()
    _make_writable(root)
    shutil.rmtree(root, ignore_errors=True)


def call(name: str, call_id: str, **tool_input: Any) -> dict[str, Any]:
    return {"name": name, "id": call_id, "input": tool_input}


def bash(call_id: str, command: str, **extra: Any) -> dict[str, Any]:
    return {"name": "Bash", "id": call_id, "input": {"command": command, **extra}}


def turn(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"tool_calls": list(calls)}


def host_ketch(args: list[str], lab: Lab, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ketch on the host as the user would (e.g. `ketch auth login`), with the lab's env."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "KETCH_"))}
    env.update({"HOME": str(lab.home), "KETCH_HOME": str(lab.ketch_home), "KETCH_KEYRING": "0", "NO_COLOR": "1"})
    return subprocess.run(ketch_argv() + args, input=stdin, env=env, cwd=lab.ws, capture_output=True, text=True,
                          timeout=30, check=False)
