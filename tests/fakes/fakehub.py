"""A tiny stand-in for the Hugging Face hub on 127.0.0.1, enough for `hf_hub_download`.

huggingface_hub (1.x and 2.x, file_download.py) resolves a file with
`HEAD {endpoint}/{repo_id}/resolve/{revision}/{filename}` and needs from the answer:
`X-Repo-Commit` (the commit the revision points at), an `ETag` (for LFS files, the
sha256 of the content) and the size (`Content-Length`, or `X-Linked-Size` on a redirect).
It then GETs the same path at the commit it was told and checks the byte count. Errors carry
`X-Error-Code` (`RepoNotFound`, `EntryNotFound`, `RevisionNotFound`) so the client raises its
typed errors. Point the client here with `HF_ENDPOINT=http://127.0.0.1:PORT` (read at import).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    content: bytes
    etag: str = ""  # what the hub claims; defaults to the sha256 of `content`
    served: bytes | None = None  # what a GET actually returns (a tampering mirror); defaults to `content`

    def claimed_etag(self) -> str:
        return self.etag or hashlib.sha256(self.content).hexdigest()


@dataclass
class FakeHub:
    files: dict[tuple[str, str], HubFile]  # (repo_id, filename) -> file
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path) in arrival order

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, with_body: bool) -> None:
                hub.requests.append((self.command, self.path))
                path = unquote(self.path.split("?", 1)[0])
                repo, sep, rest = path.lstrip("/").partition("/resolve/")
                revision, _, filename = rest.partition("/")
                if not sep or not filename:
                    return self._error(404, "RepoNotFound", "no such route")
                if revision not in ("main", COMMIT):
                    return self._error(404, "RevisionNotFound", f"no revision {revision}")
                entry = hub.files.get((repo, filename))
                if entry is None:
                    known = any(r == repo for r, _ in hub.files)
                    return self._error(404, "EntryNotFound" if known else "RepoNotFound", f"{repo}/{filename}")
                body = entry.content if entry.served is None else entry.served
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{entry.claimed_etag()}"')
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if with_body:
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str) -> None:
                body = f'{{"error": "{message}"}}'.encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:
                self._answer(with_body=False)

            def do_GET(self) -> None:
                self._answer(with_body=True)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
