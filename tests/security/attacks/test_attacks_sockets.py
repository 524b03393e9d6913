"""Host unix sockets (issue 10, class 5): a container engine's socket is a full escape.

Docker, colima, Rancher Desktop, podman and ssh agents keep their sockets under the home
or beside the project, and connect(2) needs no write access to the mount: a read-only
view is no protection. Each attack runs in bypassPermissions (nothing asks) against real
listening sockets on the host — under the fake HOME where engines put them, and in the
workspace's parent — and must reach none of them, by any client or syscall route.
The opt-in test proves the same attacks do reach them when the user allows sockets.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from pathlib import Path

import pytest
from attack_kit import bash, turn

BYPASS = "bypassPermissions"

# Where engines and agents keep them, relative to the home (and one beside the workspace).
HOME_SOCKETS = (".docker/run/docker.sock", ".colima/default/docker.sock", ".rd/docker.sock",
                ".local/share/containers/podman/machine/podman.sock", ".gnupg/S.gpg-agent.ssh")


class HostSocket:
    """A listening unix socket on the host that records every connection it accepts."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.hits = 0
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        os.chmod(path, 0o666)
        self._server.listen(16)
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            self.hits += 1
            with conn:
                try:
                    conn.settimeout(1)
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.0 200 OK\r\ncontent-length: 12\r\n\r\nHOST-SOCKET!")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._server.close()


@pytest.fixture
def sockets(lab):
    made = [HostSocket(lab.home / rel) for rel in HOME_SOCKETS]
    made.append(HostSocket(lab.root / "agent.sock"))  # the workspace's parent
    # A host socket must be reachable from the host, or zero hits would prove nothing.
    with socket.socket(socket.AF_UNIX) as probe:
        probe.connect(str(made[0].path))
    lab.rebaseline()
    yield made
    for s in made:
        s.close()


def _assert_unreached(lab, sockets, out, safe: bool = True) -> None:
    reached = [str(s.path) for s in sockets if s.hits > (1 if s is sockets[0] else 0)]
    assert reached == [], f"host unix sockets were reached from the sandbox: {reached}"
    for r in out.results().values():
        assert "HOST-SOCKET!" not in r["content"] and "CONNECTED" not in r["content"]
    if safe:
        lab.assert_safe(out)


def _python_connect_all(paths: list[Path]) -> str:
    return ("python3 - <<'EOF'\nimport socket\n"
            f"for p in {[str(p) for p in paths]!r}:\n"
            "    try:\n"
            "        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(p); print('CONNECTED', p)\n"
            "        s.sendall(b'GET /containers/json HTTP/1.0\\r\\n\\r\\n'); print('GOT', s.recv(100))\n"
            "    except OSError as e:\n"
            "        print('refused', p, e)\n"
            "EOF\n")


def test_python_socket_module_reaches_no_host_socket(lab, sockets):
    out = lab.run([turn(bash("x", _python_connect_all([s.path for s in sockets])))], mode=BYPASS)
    assert "refused" in out.result_text("x")
    _assert_unreached(lab, sockets, out)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_unix_socket_reaches_nothing(lab, sockets):
    command = "; ".join(f"curl -s -m 5 --unix-socket {s.path} http://localhost/containers/json" for s in sockets)
    out = lab.run([turn(bash("x", command + "; echo end"))], mode=BYPASS)
    assert "end" in out.result_text("x")
    _assert_unreached(lab, sockets, out)


def test_raw_syscalls_and_other_abis_reach_nothing(lab, sockets):
    """socket() by number with junk in the family's upper bits, the x32 ABI, io_uring."""
    target = str(sockets[0].path).encode()
    script = f"""python3 - <<'EOF'
import ctypes, struct
libc = ctypes.CDLL(None, use_errno=True)
addr = struct.pack('H', 1) + {target!r} + b'\\0' * (108 - {len(target)})
for nr, family in ((41, 1), (41, 0x100000001), (41 | 0x40000000, 1)):
    fd = libc.syscall(nr, ctypes.c_long(family), 1, 0)
    print('socket', hex(nr), hex(family), fd, ctypes.get_errno())
    if fd >= 0:
        print('connect', libc.connect(fd, addr, len(addr)), ctypes.get_errno())
params = ctypes.create_string_buffer(120)
print('io_uring_setup', libc.syscall(425, 4, params), ctypes.get_errno())
EOF
"""
    out = lab.run([turn(bash("x", script))], mode=BYPASS)
    assert "io_uring_setup -1" in out.result_text("x")
    _assert_unreached(lab, sockets, out)


def test_symlink_and_other_languages_reach_nothing(lab, sockets):
    link = f"ln -s {sockets[0].path} dock.sock; "
    perl = ("perl -MSocket -e 'socket(my $s, PF_UNIX, SOCK_STREAM, 0) or die \"perl refused: $!\\n\"; "
            f"connect($s, sockaddr_un(\"{sockets[1].path}\")) or die \"no connect\\n\"; print \"perl connected\\n\"'; ")
    node = (f"node -e 'require(\"net\").connect(\"{sockets[2].path}\").on(\"error\", e => console.log(\"node\", e.code))"
            ".on(\"connect\", () => console.log(\"node connected\"))'; ") if shutil.which("node") else ""
    out = lab.run([turn(bash("x", link + _python_connect_all([Path("dock.sock")]) + perl + node + "echo end"))],
                  mode=BYPASS)
    assert "end" in out.result_text("x") and "connected" not in out.result_text("x")
    _assert_unreached(lab, sockets, out)


def test_ordinary_local_ipc_still_works(lab, sockets):
    """socketpair (multiprocessing pipes, libuv, subprocess plumbing) is not a host socket."""
    script = ("python3 - <<'EOF'\nimport socket, multiprocessing as mp\n"
              "a, b = socket.socketpair(); a.sendall(b'pair-ok'); print(b.recv(7).decode())\n"
              "def sq(x): return x * x\n"
              "if __name__ == '__main__':\n"
              "    with mp.get_context('fork').Pool(2) as pool: print('pool', sum(pool.map(sq, range(4))))\n"
              "    r, w = mp.Pipe(); w.send('pipe-ok'); print(r.recv())\n"
              "EOF\n")
    out = lab.run([turn(bash("x", script))], mode=BYPASS)
    text = out.result_text("x")
    assert "pair-ok" in text and "pool 14" in text and "pipe-ok" in text, text
    _assert_unreached(lab, sockets, out)


def test_the_users_opt_in_lets_sockets_through(lab, sockets):
    """The explicit opt-in (user settings only) — and proof the attacks above can fail."""
    settings = lab.ketch_home / "settings.json"
    data = json.loads(settings.read_text())
    data["sandbox"] = {"allowUnixSockets": True}
    settings.write_text(json.dumps(data))
    lab.rebaseline()
    out = lab.run([turn(bash("x", _python_connect_all([sockets[0].path, sockets[-1].path])))], mode=BYPASS)
    assert out.result_text("x").count("CONNECTED") == 2


def test_a_project_cannot_opt_in(lab, sockets):
    (lab.ws / ".ketch").mkdir()
    (lab.ws / ".ketch/settings.json").write_text(json.dumps({"sandbox": {"allowUnixSockets": True}}))
    lab.rebaseline()
    out = lab.run([turn(bash("x", _python_connect_all([sockets[0].path])))], "--trust", mode=BYPASS)
    assert "refused" in out.result_text("x")
    _assert_unreached(lab, sockets, out, safe=False)  # trusting writes ketch's trust store
