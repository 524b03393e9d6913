"""A command that fails for want of network says why, and which setting admits a host."""

from __future__ import annotations

import json
from pathlib import Path

from harness import tool_results

from ketch.security.sandbox.hints import failed_host, network_hint


def _bash_result(run_ketch, server, command: str) -> str:  # type: ignore[no-untyped-def]
    fake = server([{"tool_calls": [{"name": "Bash", "input": {"command": command}}]}, {"text": "ok"}])
    run = run_ketch(["-p", "fetch it", "--permission-mode", "bypassPermissions"], server=fake)
    assert run.returncode == 0, run.stderr
    return tool_results(fake.requests[1].body, "anthropic")[-1]["content"]


def test_curl_without_network_names_the_setting_and_the_host(server, run_ketch, ketch_home: Path):
    content = _bash_result(run_ketch, server, "curl -sS https://pypi.org/simple/")
    assert "Could not resolve host" in content
    assert "without network access" in content
    assert '"allowedHosts": ["pypi.org"]' in content and str(ketch_home / "settings.json") in content


def test_a_host_the_allow_list_refused_is_named(server, run_ketch, ketch_home: Path):
    (ketch_home / "settings.json").write_text(json.dumps({"sandbox": {"network": {"allowedHosts": ["pypi.org"]}}}))
    content = _bash_result(run_ketch, server, "curl -sS https://example.com/")
    assert "the network allow-list refused: example.com:443" in content and "allowedHosts" in content


def test_output_that_only_mentions_a_failure_gets_no_note(server, run_ketch):
    content = _bash_result(run_ketch, server, "echo 'build.log: Could not resolve host: x.org'")
    assert "ketch sandbox" not in content


def test_hosts_are_read_from_each_clients_wording():
    assert failed_host("curl: (6) Could not resolve host: pypi.org") == "pypi.org"
    assert failed_host("npm ERR! getaddrinfo ENOTFOUND registry.npmjs.org") == "registry.npmjs.org"
    assert failed_host("wget: unable to resolve host address 'files.example.net'") == "files.example.net"
    assert failed_host("Could not resolve host: $(evil)") is None
    pip = "Failed to establish a new connection: [Errno -3] Temporary failure in name resolution"
    assert network_hint(pip, Path("/h/settings.json")) is not None
    assert network_hint("all good", Path("/h/settings.json")) is None
