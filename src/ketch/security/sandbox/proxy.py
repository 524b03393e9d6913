"""The network allow-list: an HTTP proxy in ketch that lets sandboxed tools reach listed hosts only.

A sandbox with allowed hosts still has no network of its own. Its HTTP(S)_PROXY points
at a forwarder inside it (sandbox/forwarder.py) that hands each connection to this proxy
over an inherited socketpair; the proxy accepts `CONNECT host:port` and plain `GET http://host/...` requests,
and only for hosts on the list (DESIGN.md §5.2):

- names are compared whole, after lower-casing and dropping one trailing dot: no prefix,
  suffix or sub-domain matching (`pypi.org` does not admit `pypi.org.evil.com` or
  `evil-pypi.org`; `*.` entries are not supported on purpose);
- a request line or Host header with NUL, CR, LF, spaces or any byte outside the
  host-name alphabet is refused, as is a Host header that disagrees with the URL;
- an address is only reachable when written on the list exactly as requested, so
  decimal, hex, octal or shortened IPv4 forms (`2130706433`, `0x7f.1`, `127.1`) are refused;
- a listed name that resolves to loopback or link-local (cloud metadata) is refused.

An entry `host` admits ports 80 and 443; `host:port` admits that port only.
What it cannot see: inside TLS, a client may ask a shared front end (a CDN) for another
site than the one named in CONNECT (domain fronting); list hosts accordingly.
"""

from __future__ import annotations

import ipaddress
import os
import re
import select
import socket
import threading
from dataclasses import dataclass

_HEAD_MAX = 64 * 1024
_MAX_CONNECTIONS = 64
_IDLE_S = 300.0
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_DEFAULT_PORTS = (80, 443)


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    addresses: tuple[str, ...]  # checked once, connected to as is: no second lookup to rebind


def normalize_host(raw: str) -> str | None:
    """The canonical form of a host name or address literal, or None if it is not one."""
    if any(c in raw for c in "\x00\r\n\t @/\\%?#") or not raw:
        return None
    host = raw.lower()
    if host.startswith("[") and host.endswith("]"):
        try:
            return "[" + str(ipaddress.IPv6Address(host[1:-1])) + "]"
        except ValueError:
            return None
    host = host.removesuffix(".")
    if not _NAME.match(host) or len(host) > 253:
        return None
    return host


def parse_allowed(entries: tuple[str, ...] | list[str]) -> dict[str, tuple[int, ...]]:
    """`host` or `host:port` entries -> {canonical host: allowed ports}. Bad entries raise."""
    allowed: dict[str, tuple[int, ...]] = {}
    for entry in entries:
        host, port = _split_host_port(entry.strip(), None)
        canonical = normalize_host(host)
        if canonical is None:
            raise ValueError(f"not a host name: {entry!r}")
        ports = _DEFAULT_PORTS if port is None else (port,)
        allowed[canonical] = tuple(sorted(set(allowed.get(canonical, ()) + ports)))
    return allowed


def _split_host_port(text: str, default: int | None) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return text, default
        host, rest = text[: end + 1], text[end + 1 :]
        if not rest:
            return host, default
        if not rest.startswith(":"):
            return "", default
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        return text, default
    if not port_text.isdigit() or not 0 < int(port_text) < 65536 or port_text.startswith("0"):
        return "", default
    return host, int(port_text)


class Refusal(Exception):
    """A refusal, with the status line and the reason sent back to the client."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Policy:
    """Exact host matching against the allow-list."""

    def __init__(self, entries: tuple[str, ...] | list[str]) -> None:
        self.allowed = parse_allowed(entries)

    def check(self, host: str, port: int) -> Target:
        canonical = normalize_host(host)
        if canonical is None:
            raise Refusal("400 Bad Request", f"not a valid host name: {host!r}")
        if port not in self.allowed.get(canonical, ()):
            raise Refusal("403 Forbidden", f"{canonical}:{port} is not in the sandbox's network allow-list")
        if _is_address(canonical):
            return Target(canonical, port, (canonical.strip("[]"),))
        addresses = _resolve(canonical, port)
        for address in addresses:
            if address.is_loopback or address.is_link_local or address.is_unspecified:
                raise Refusal("403 Forbidden", f"{canonical} resolves to {address}, a local address")
        return Target(canonical, port, tuple(dict.fromkeys(str(a) for a in addresses)))


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refusal("502 Bad Gateway", f"cannot resolve {host}: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]  # str: typed str | int


@dataclass
class Request:
    target: Target
    connect: bool
    head: bytes  # for plain HTTP: the head to send upstream


def parse_request(head: bytes, policy: Policy) -> Request:
    """Check one request head (everything up to the blank line) against the policy."""
    if b"\x00" in head:
        raise Refusal("400 Bad Request", "NUL byte in the request")
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise Refusal("400 Bad Request", "non-ASCII bytes in the request head") from None
    lines = text.split("\r\n")
    if any("\r" in line or "\n" in line for line in lines):
        raise Refusal("400 Bad Request", "bare CR or LF in the request head")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.0", "HTTP/1.1"):
        raise Refusal("400 Bad Request", "malformed request line")
    method, uri, version = parts
    headers = [line for line in lines[1:] if line]
    hosts = [h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("host:")]
    if len(hosts) > 1:
        raise Refusal("400 Bad Request", "more than one Host header")
    if method == "CONNECT":
        host, port = _split_host_port(uri, None)
        if port is None:
            raise Refusal("400 Bad Request", "CONNECT needs host:port")
        target = policy.check(host, port)
        if hosts and _host_of(hosts[0], port) != (target.host, port):
            raise Refusal("400 Bad Request", "Host header does not match the CONNECT target")
        return Request(target, True, b"")
    match = re.fullmatch(r"http://([^/?#]+)(.*)", uri)
    if match is None:
        raise Refusal("400 Bad Request", "only absolute http:// URLs or CONNECT are proxied")
    authority, path = match.groups()
    host, port = _split_host_port(authority, 80)
    if port is None:
        raise Refusal("400 Bad Request", "bad port")
    target = policy.check(host, port)
    if hosts and _host_of(hosts[0], port) != (target.host, port):
        raise Refusal("400 Bad Request", "Host header does not match the URL")
    kept = [h for h in headers if not h.lower().startswith(("connection:", "proxy-connection:", "proxy-authorization:",
                                                              "keep-alive:"))]
    # One request per connection: a second, pipelined one could name another host.
    rebuilt = [f"{method} {path or '/'} {version}", *kept, "Connection: close", "", ""]
    return Request(target, False, "\r\n".join(rebuilt).encode("ascii"))


def _host_of(header: str, default_port: int) -> tuple[str | None, int | None]:
    host, port = _split_host_port(header, default_port)
    return normalize_host(host), port


def _connect(target: Target) -> socket.socket:
    last: OSError = OSError(f"no address for {target.host}")
    for address in target.addresses:
        try:
            return socket.create_connection((address, target.port), timeout=30)
        except OSError as exc:
            last = exc
    raise last


def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > _HEAD_MAX:
            raise Refusal("431 Request Header Fields Too Large", "request head too large")
        chunk = conn.recv(8192)
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy both ways until either side closes or nothing moves for a long time."""
    sockets = [a, b]
    while True:
        ready, _, _ = select.select(sockets, [], [], _IDLE_S)
        if not ready:
            return
        for s in ready:
            data = s.recv(65536)
            if not data:
                return
            (b if s is a else a).sendall(data)


class Proxy:
    """The host side: client connections handed over by each sandbox's forwarder, one thread each.

    No socket of the proxy's is reachable by path: a sandbox may create no unix socket
    (security.sandbox.seccomp), so its forwarder instead passes each accepted TCP
    connection over a socketpair it inherited (`channel()`), and the proxy serves that
    connection directly.
    """

    def __init__(self, allowed_hosts: tuple[str, ...]) -> None:
        self.policy = Policy(allowed_hosts)
        self.denied: list[str] = []  # what was refused, for the transcript
        self._slots = threading.BoundedSemaphore(_MAX_CONNECTIONS)
        self._closed = False
        self._channels: set[socket.socket] = set()
        self._lock = threading.Lock()

    def channel(self) -> socket.socket:
        """A new socketpair for one sandboxed call: the returned end goes to its forwarder."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with self._lock:
            self._channels.add(mine)
        threading.Thread(target=self._receive, args=(mine,), name="ketch-proxy", daemon=True).start()
        return theirs

    def close(self) -> None:
        self._closed = True
        with self._lock:
            channels, self._channels = list(self._channels), set()
        for ch in channels:
            try:
                ch.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _receive(self, channel: socket.socket) -> None:
        """Take connections from one forwarder until it goes away (its call ended)."""
        try:
            while not self._closed:
                try:
                    data, fds, _, _ = socket.recv_fds(channel, 16, 4)
                except OSError:
                    return
                if not data and not fds:
                    return
                for fd in fds:
                    self._take(fd)
        finally:
            with self._lock:
                self._channels.discard(channel)
            channel.close()

    def _take(self, fd: int) -> None:
        try:
            conn = socket.socket(fileno=fd)
        except OSError:
            os.close(fd)  # not a socket: whatever sent it gets nothing
            return
        if conn.family not in (socket.AF_INET, socket.AF_INET6) or conn.type != socket.SOCK_STREAM \
                or self._closed or not self._slots.acquire(blocking=False):
            conn.close()
            return
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            conn.settimeout(30)
            try:
                head, rest = _read_head(conn)
                request = parse_request(head, self.policy)
                upstream = _connect(request.target)
            except Refusal as refusal:
                self.denied.append(str(refusal))
                body = f"ketch sandbox: {refusal}\n".encode()
                conn.sendall(f"HTTP/1.1 {refusal.status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                             "Connection: close\r\n\r\n".encode() + body)
                return
            except OSError as exc:
                conn.sendall(f"HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\nketch sandbox: {exc}\n".encode())
                return
            conn.settimeout(None)
            upstream.settimeout(None)
            if request.connect:
                conn.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            else:
                upstream.sendall(request.head)
            if rest:
                upstream.sendall(rest)
            _pipe(conn, upstream)
        except (OSError, ConnectionError):
            pass
        finally:
            if upstream is not None:
                upstream.close()
            conn.close()
            self._slots.release()
