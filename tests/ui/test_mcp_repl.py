"""The REPL's MCP pieces without a terminal or a server: /mcp, `@server:uri`, elicitation forms,
prompts as commands, notices from other threads. A fake manager stands in for McpManager."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from ketch.errors import McpError
from ketch.ext.mcp.client import PromptInfo, ToolInfo
from ketch.ext.mcp.config import ServerConfig
from ketch.ext.mcp.manager import ServerStatus
from ketch.ext.mcp.tools import McpTool
from ketch.ui.commands import default_registry
from ketch.ui.mcp_elicit import ask_form, parse
from ketch.ui.mcp_prompts import PromptCommands, arguments
from ketch.ui.mcp_resources import attach_resources, resource_mentions
from ketch.ui.mcp_session import NoticeLine


class Screen:
    """The renderer's lines, as (kind, text)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def line(self, text: str, style: str = "") -> None:
        self.lines.append(("line", text))

    def info(self, text: str) -> None:
        self.lines.append(("info", text))

    def warn(self, text: str) -> None:
        self.lines.append(("warn", text))

    def error(self, text: str) -> None:
        self.lines.append(("error", text))

    def end_text(self) -> None:
        pass

    @property
    def text(self) -> str:
        return "\n".join(t for _, t in self.lines)


class FakeClient:
    def __init__(self, resources: dict[str, str] | None = None, prompts: list[PromptInfo] | None = None) -> None:
        self.resources = resources or {}
        self.prompts = prompts or []
        self.got: list[tuple[str, dict[str, str]]] = []

    def read_resource(self, uri: str, timeout_s: float) -> str:
        if uri not in self.resources:
            raise McpError(f"no resource {uri}")
        return self.resources[uri]

    def list_resources(self, timeout_s: float) -> list[dict[str, Any]]:
        return [{"uri": u, "name": u.rsplit("/", 1)[-1]} for u in self.resources]

    def list_prompts(self, timeout_s: float) -> list[PromptInfo]:
        return self.prompts

    def get_prompt(self, name: str, args: dict[str, str], timeout_s: float) -> str:
        self.got.append((name, args))
        return f"prompt {name} with {args}"


def _config(name: str, scope: str = "cli") -> ServerConfig:
    return ServerConfig(name=name, transport="stdio", scope=scope, source="x", command="srv", args=("--flag",))  # type: ignore[arg-type]


@dataclass
class FakeManager:
    clients: dict[str, FakeClient]
    states: dict[str, str]
    pending: list[ServerConfig] = field(default_factory=list)
    budget_tokens: int = 20_000
    calls: list[tuple[str, str]] = field(default_factory=list)

    @property
    def servers(self) -> dict[str, str]:
        return dict(self.states)

    def connected_client(self, name: str) -> FakeClient | None:
        return self.clients.get(name) if self.states.get(name) == "connected" else None

    def statuses(self) -> list[ServerStatus]:
        return [ServerStatus(n, "cli", "stdio", s, "exit 1: no such file" if s == "failed" else "",
                             2 if s == "connected" else 0, 300 if s == "connected" else 0, n != "loose")
                for n, s in self.states.items()]

    def server_tools(self, name: str) -> list[McpTool]:
        info = ToolInfo("echo", "Returns its text unchanged.\nMore.", {"type": "object", "properties": {}})
        return [McpTool(name, info, lambda *a, **k: None, "execute")] if self.states.get(name) == "connected" else []

    def reconnect(self, name: str) -> None:
        self.calls.append(("reconnect", name))

    def disable(self, name: str) -> None:
        self.calls.append(("disable", name))


def _repl(manager: FakeManager | None) -> Any:
    repl = SimpleNamespace(r=Screen(), commands=default_registry(), sent=[])
    repl.mcp = SimpleNamespace(manager=manager, declined=[])
    repl.run_prompt = lambda text, mentions=True: repl.sent.append((text, mentions))
    return repl


def _manager() -> FakeManager:
    return FakeManager({"docs": FakeClient({"note://a": "A's text"})},
                       {"docs": "connected", "broken": "failed", "loose": "starting"})


def test_mcp_lists_each_server_with_state_scope_transport_sandbox_and_cost():
    manager = _manager()
    manager.pending = [_config("proj", "project")]
    repl = _repl(manager)
    repl.commands.dispatch(repl, "/mcp")
    text = repl.r.text
    assert "docs      connected · cli · stdio · sandboxed · 2 tools · ~300 tokens" in text
    assert "broken    failed: exit 1: no such file · cli · stdio · sandboxed" in text
    assert "loose     starting · cli · stdio · NOT sandboxed" in text
    assert "proj      not approved (ketch asks again next time) · project · stdio · srv --flag" in text
    assert "ToolSearch" not in text  # 300 tokens is under the budget


def test_mcp_reconnect_disable_tools_and_mistakes():
    manager = _manager()
    repl = _repl(manager)
    for line in ("/mcp reconnect broken", "/mcp disable docs", "/mcp tools docs", "/mcp tools loose",
                 "/mcp reconnect nosuch", "/mcp frobnicate docs", "/mcp disable"):
        repl.commands.dispatch(repl, line)
    assert manager.calls == [("reconnect", "broken"), ("disable", "docs")]
    lines = repl.r.lines
    assert any(k == "line" and "mcp__docs__echo" in t and "tokens  Returns its text unchanged." in t for k, t in lines)
    assert ("info", "loose offers no tools now (starting)") in lines
    assert ("error", "no MCP server 'nosuch' in this session (/mcp lists them)") in lines
    assert [t for k, t in lines if k == "error"][1:] == ["usage: /mcp [reconnect|disable|tools|auth NAME]"] * 2


def test_mcp_without_servers_says_how_to_add_one():
    repl = _repl(None)
    repl.commands.dispatch(repl, "/mcp")
    assert "no MCP servers in this session" in repl.r.text


def test_mcp_arguments_complete_from_the_servers():
    repl = _repl(_manager())
    offers = repl.commands.complete_arguments(repl, "/mcp reconnect b")
    assert offers == [("reconnect broken", "reconnect b")]
    assert ("tools docs", "t") in repl.commands.complete_arguments(repl, "/mcp t")
    assert repl.commands.complete_arguments(repl, "/help x") == []


def test_resource_mentions_are_read_attached_and_problems_said():
    manager = _manager()
    text = "see @docs:note://a, @docs:note://missing @loose:x://y @src/app.py @nosuch:z://w and @docs:note://a"
    assert resource_mentions(text, {"docs", "loose"}) == [("docs", "note://a"), ("docs", "note://missing"),
                                                         ("loose", "x://y")]
    message, attached, problems = attach_resources(text, manager)  # type: ignore[arg-type]
    assert attached == ["@docs:note://a"]
    assert message.startswith(text) and message.endswith('<resource server="docs" uri="note://a">\nA\'s text\n</resource>')
    assert problems == ["@docs:note://missing not attached: no resource note://missing",
                        "@loose:x://y not attached: MCP server 'loose' is not connected (/mcp)"]


def test_a_huge_resource_is_cut():
    manager = FakeManager({"docs": FakeClient({"big://x": "x" * 300_000})}, {"docs": "connected"})
    message, attached, _ = attach_resources("@docs:big://x", manager)  # type: ignore[arg-type]
    assert attached and len(message) < 270_000 and "[... cut: the resource has 300000 characters]" in message


def _answers(*lines: str):
    queue = list(lines)
    return lambda prompt: queue.pop(0)


SCHEMA = {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "description": "Your name"},
    "age": {"type": "integer", "minimum": 0, "maximum": 150},
    "tea": {"type": "boolean", "default": True},
    "size": {"type": "string", "enum": ["s", "m", "l"], "enumNames": ["small", "medium", "large"]},
}}


def test_an_elicitation_form_is_filled_in_with_retries_defaults_and_choices():
    screen = Screen()
    result = ask_form(screen, _answers("y", "Ada\x1b[2J", "two hundred", "200", "36", "", "large"),
                      "Who are you?\x1b]52;c;x\x07", SCHEMA)
    assert result == {"action": "accept", "content": {"name": "Ada\x1b[2J", "age": 36, "tea": True, "size": "l"}}
    assert screen.lines[0] == ("line", "? An MCP server asks: Who are you?\x1b]52;c;x\x07")  # Renderer.line escapes it
    assert ("warn", "    expected a whole number") in screen.lines
    assert ("warn", "    expected a number from 0 to 150") in screen.lines


def test_an_elicitation_can_be_declined_cancelled_or_given_up():
    assert ask_form(Screen(), _answers("n"), "?", SCHEMA) == {"action": "decline"}
    assert ask_form(Screen(), _answers(""), "?", SCHEMA) == {"action": "cancel"}
    assert ask_form(Screen(), _answers("y", "", "", ""), "?", SCHEMA) == {"action": "cancel"}  # name is required
    nested = {"type": "object", "properties": {"where": {"type": "object"}}}
    screen = Screen()
    assert ask_form(screen, _answers(), "?", nested) == {"action": "decline"}
    assert "cannot ask for" in screen.text


def test_field_values_are_parsed_by_kind():
    assert parse({"type": "boolean"}, "no") == (False, None)
    assert parse({"type": "number"}, "2.5") == (2.5, None)
    assert parse({"oneOf": [{"const": "a", "title": "Apple"}, {"const": "b"}]}, "Apple") == ("a", None)
    assert parse({"enum": ["x", "y"]}, "2") == ("y", None)
    assert parse({"enum": ["x", "y"]}, "z")[1] == "pick one of: 1 x, 2 y"
    assert parse({"type": "string", "maxLength": 3}, "abcd")[1] == "expected 0 to 3 characters"


def test_prompts_become_commands_listed_in_help_and_send_their_text():
    review = PromptInfo("review", "Asks for a review of CODE.", (("code", True), ("style", False)))
    client = FakeClient(prompts=[review, PromptInfo("help", "would shadow nothing: prefixed")])
    manager = FakeManager({"basic": client}, {"basic": "connected"})
    repl = _repl(manager)
    PromptCommands(repl.commands).sync(manager, wait=True)  # type: ignore[arg-type]
    repl.commands.dispatch(repl, "/help")
    assert "MCP servers' prompts:" in repl.r.text
    assert "/mcp__basic__review CODE [STYLE] Asks for a review of CODE. (MCP server basic)" in repl.r.text
    assert repl.commands.get("help").source == ""  # the built-in /help is untouched
    repl.commands.dispatch(repl, "/mcp__basic__review")
    assert ("error", "/mcp__basic__review needs CODE: /mcp__basic__review CODE [STYLE]") in repl.r.lines
    repl.commands.dispatch(repl, "/mcp__basic__review app.py terse, please")
    assert client.got == [("review", {"code": "app.py", "style": "terse, please"})]
    assert repl.sent == [("prompt review with {'code': 'app.py', 'style': 'terse, please'}", False)]  # no @-mentions


def test_prompt_arguments_fill_in_order_the_last_taking_the_rest():
    info = PromptInfo("p", "", (("a", True), ("b", False)))
    assert arguments(info, "one two three") == ({"a": "one", "b": "two three"}, None)
    assert arguments(PromptInfo("q", ""), "x") == ({}, "takes no arguments")


def test_notices_are_held_until_shown_and_printed_at_once_when_live():
    shown: list[str] = []
    notices = NoticeLine(shown.append)
    thread = threading.Thread(target=notices, args=("server x failed",))
    thread.start()
    thread.join()
    assert shown == []
    notices.flush()
    assert shown == ["server x failed"]
    with notices.live(enabled=False):
        notices("another")  # not a terminal: held for the next flush
    assert shown == ["server x failed"]
    notices.flush()
    assert shown[-1] == "another"


def test_an_elicitation_outside_a_turn_is_declined_and_one_during_a_turn_is_asked_on_the_main_thread():
    from ketch.ui.mcp_session import McpSession
    from ketch.ui.turn import TurnRunner

    agent = SimpleNamespace(cancel=threading.Event(), interrupt=lambda: True)
    runner = TurnRunner(agent, [], lambda request: None)
    repl = SimpleNamespace(r=Screen(), commands=default_registry(), agent=None, runner=runner)
    assert McpSession(repl).elicit("?", SCHEMA) == {"action": "decline"}
    answers: list[Any] = []

    def turn():
        asker = threading.Thread(target=lambda: answers.append(runner.call_on_main(lambda: "asked", "default")))
        asker.start()
        yield from ()
        asker.join()

    runner.run(turn())  # the call is served on this (the main) thread before the turn ends
    assert answers == ["asked"]
    runner.close()


def test_a_projects_server_is_shown_escaped_then_approved_and_started_or_left(tmp_path, monkeypatch):
    from ketch.ext.mcp.approvals import is_approved
    from ketch.ui.mcp_session import McpSession

    monkeypatch.setenv("KETCH_HOME", str(tmp_path / "home"))
    raw = '{"command":"srv\\u001b]52;c;aGk=\\u0007","args":["\\u202egnp.exe"]}'
    asked = ServerConfig(name="p", transport="stdio", scope="project", source=".mcp.json",
                         command="srv\x1b]52;c;aGk=\x07", args=("\u202egnp.exe",), raw=raw)
    other = ServerConfig(name="q", transport="stdio", scope="project", source=".mcp.json", command="q", raw="{}")
    started: list[str] = []
    manager = SimpleNamespace(pending=[asked, other], workspace=tmp_path, sandbox_args={},
                              add_and_start=lambda c: (started.append(c.name), manager.pending.remove(c)))
    answers = iter([True, False])
    repl = SimpleNamespace(r=Screen(), commands=default_registry(), agent=None, confirm=lambda q: next(answers))
    session = McpSession(repl)
    monkeypatch.setattr(McpSession, "manager", property(lambda self: manager))
    session.ask_pending()
    assert started == ["p"] and manager.pending == [] and session.declined == [other]
    assert is_approved(tmp_path, asked) and not is_approved(tmp_path, other)
    shown = repl.r.text
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "it runs: 'srv\\x1b]52;c;aGk=\\x07' '\\u202egnp.exe'" in shown
    assert "not started; ketch asks again next time" in shown
