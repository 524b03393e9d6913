"""The everyday slash commands: help, clear, model, cost, status, permissions, init, expand, exit."""

from __future__ import annotations

from typing import Any

from ketch.terminal_text import printable as clean
from ketch.ui.commands.registry import SlashCommand
from ketch.ui.render import human

INIT_PROMPT = (
    "Please study this project and write an AGENTS.md file at its root for future coding agents: "
    "what the project is, how it is laid out, how to build, run and test it (the exact commands), "
    "the code style and conventions it follows, and anything surprising a newcomer must know. "
    "Keep it short and factual; if an AGENTS.md already exists, improve it rather than replace it."
)


class Quit(Exception):
    """/exit: leave the REPL with status 0."""


def _help(repl: Any, arg: str) -> None:
    commands = repl.commands.all()
    for command in commands:
        if not command.source:
            repl.r.line(f"  /{command.name:<12} {command.help}")
    groups = (("custom commands (.ketch/commands/*.md, $KETCH_HOME/commands/*.md):",
               [c for c in commands if c.source and c.source != "mcp"]),
              ("MCP servers' prompts:", [c for c in commands if c.source == "mcp"]))
    for heading, listed in groups:
        if listed:
            repl.r.line(f"  {heading}")
        for command in listed:
            name = f"{command.name} {command.usage}".strip()
            repl.r.line(f"  /{name:<12} {command.help}")
    repl.r.info("  Enter sends · Alt-Enter or a trailing \\ adds a line · @path attaches a file · "
                "@server:uri attaches an MCP resource · "
                "!cmd runs a shell command (its output goes with your next message) · "
                "Shift-Tab switches the permission mode · Esc interrupts · Ctrl-D exits")


def _clear(repl: Any, arg: str) -> None:
    repl.new_session()
    repl.r.info(f"new conversation (session {repl.agent.session_id})")


def _model(repl: Any, arg: str) -> None:
    if not arg:
        repl.r.line(f"model: {repl.agent.config.provider_name}:{repl.agent.config.model}  (/model NAME switches)")
        return
    try:
        repl.wiring.switch_model(repl.agent, arg)  # the composition root builds the new provider
    except Exception as exc:  # noqa: BLE001 - ConfigError, ValueError...: a one-line problem the user can fix
        repl.r.error(f"cannot switch to {arg}: {exc}")
        return
    repl.r.info(f"model: {repl.agent.config.provider_name}:{repl.agent.config.model}")


def _cost(repl: Any, arg: str) -> None:
    u = repl.agent.total_usage()  # subagents' included
    repl.r.line(f"cost this session: ${repl.agent.spent_usd():.4f}")
    repl.r.line(f"tokens: {human(u.input_tokens)} input, {human(u.cache_read_input_tokens)} cache read, "
                f"{human(u.cache_creation_input_tokens)} cache write, {human(u.output_tokens)} output")


def _status(repl: Any, arg: str) -> None:
    a = repl.agent
    for label, value in (("session", a.session_id), ("model", f"{a.config.provider_name}:{a.config.model}"),
                         ("folder", str(a.config.workspace)), ("permission mode", a.config.gate.mode),
                         ("sandbox", a.config.sandbox), ("transcript", a.config.transcript_path or "(none)")):
        repl.r.line(f"  {label:<16} {value}")


def _permissions(repl: Any, arg: str) -> None:
    from ketch.agent.permissions.rules import RuleSyntaxError, parse_rules

    gate = repl.agent.config.gate
    verb, _, rest = arg.partition(" ")
    if verb in ("allow", "deny", "ask") and rest.strip():
        try:
            rules = parse_rules([rest.strip()])
        except RuleSyntaxError as exc:
            repl.r.error(str(exc))
            return
        getattr(gate, verb).extend(rules)
        repl.r.info(f"{verb} for this session: {', '.join(map(str, rules))}")
        return
    if verb == "remove" and rest.strip():
        _remove_rule(repl, rest.strip())
        return
    repl.r.line(f"  mode: {gate.mode}")
    for kind in ("allow", "ask", "deny"):
        rules = getattr(gate, kind)
        repl.r.line(f"  {kind}: " + (clean(", ".join(map(str, rules))) if rules else "(none)"))
    from ketch.config.project_store import remembered_path, remembered_rules

    workspace = repl.agent.config.workspace
    remembered = remembered_rules(workspace)
    for kind, kept in remembered.items():
        repl.r.line(f"  remembered for this project ({kind}): {clean(', '.join(kept))}")
    if remembered:
        repl.r.info(f"  (kept in {clean(str(remembered_path(workspace)))})")
    repl.r.info("  /permissions allow|ask|deny RULE adds for this session; /permissions remove RULE removes")


def _remove_rule(repl: Any, target: str) -> None:
    """From the session, from what this project remembers, and from the project's local file
    (where older versions saved "always" rules): granted here, revocable here."""
    from ketch.config.project_store import forget_rule, remembered_path
    from ketch.ui.project_rules import local_settings_path, remove_project_rule

    gate, workspace = repl.agent.config.gate, repl.agent.config.workspace
    removed = 0
    for kind in ("allow", "deny", "ask"):
        rules = getattr(gate, kind)
        keep = [r for r in rules if str(r) != target]
        removed += len(rules) - len(keep)
        rules[:] = keep
    saved = False
    for where, forget in ((remembered_path(workspace), forget_rule), (local_settings_path(workspace), remove_project_rule)):
        try:
            kinds = forget(workspace, target)
        except (OSError, ValueError) as exc:
            repl.r.error(f"could not update {clean(str(where))}: {clean(str(exc))}")
            continue
        if kinds:
            saved = True
            repl.r.info(f"removed {clean(target)} from {clean(str(where))} ({', '.join(kinds)})")
    repl.r.info(f"removed {removed} rule(s) for this session" if removed else
                f"no rule {clean(target)} in this session" + ("" if saved else " (rules from other settings files "
                                                              "are edited in those files)"))


def _init(repl: Any, arg: str) -> None:
    repl.run_prompt(INIT_PROMPT + (f"\n\nAlso: {arg}" if arg else ""))


def _expand(repl: Any, arg: str) -> None:
    text = repl.r.last_folded
    if not text:
        repl.r.info("nothing folded yet")
    for line in text.split("\n"):
        repl.r.line(line)


def _exit(repl: Any, arg: str) -> None:
    raise Quit()


COMMANDS = [
    SlashCommand("help", "list commands and keys", _help, aliases=("?",)),
    SlashCommand("clear", "start a new conversation", _clear, aliases=("new",)),
    SlashCommand("model", "show or switch the model: /model [provider:]NAME", _model),
    SlashCommand("cost", "tokens and cost of this session", _cost),
    SlashCommand("status", "session, model, folder, mode, sandbox", _status),
    SlashCommand("permissions", "list rules; allow|ask|deny|remove RULE", _permissions),
    SlashCommand("init", "have the model write AGENTS.md for this project", _init),
    SlashCommand("expand", "show the whole of the last folded output", _expand),
    SlashCommand("exit", "leave ketch", _exit, aliases=("quit",)),
]
