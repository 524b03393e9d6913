"""The tools half of an Agent: the policy, the permission gate, the sandbox runner and the tool list.

`build_agent` (wiring.py) puts a model in front of them; `ketch mcp serve` (`build_tool_agent`)
puts an MCP client there instead, so a call from either meets the same rules, the same gate
and the same sandbox. Problems the user must fix are ConfigError with one line that says what to do.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ketch.config.policy import EffectivePolicy, load_policy
from ketch.config.settings import ketch_home
from ketch.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from ketch.agent.loop import Agent
    from ketch.agent.permissions import PermissionGate
    from ketch.agent.permissions.rules import Rule
    from ketch.cli.wiring import RunOptions
    from ketch.config.policy import RuleSource
    from ketch.conversation import ModelRequest
    from ketch.providers.base import StreamEvent
    from ketch.security.sandbox.base import CommandResult, CommandRunner
    from ketch.security.sandbox.bwrap import Sandbox
    from ketch.tools.base import Tool


@dataclass
class RunPolicy:
    """Where a run works and what its settings say, before anything is built from them."""

    workspace: Path
    trusted: bool
    policy: EffectivePolicy


def load_run_policy(options: RunOptions) -> RunPolicy:
    """The settings layers of this folder: the project's own only when the folder is trusted."""
    from ketch.security.trust import is_trusted

    workspace = Path(os.path.realpath(options.workspace))
    trusted = options.trust or is_trusted(workspace)
    policy = load_policy(
        workspace, trusted=trusted, cli_allow=options.allowed_tools,
        cli_deny=options.disallowed_tools, cli_mode=options.permission_mode, cli_model=options.model,
        cli_add_dirs=options.add_dirs,
    )
    return RunPolicy(workspace, trusted, policy)


def build_gate(options: RunOptions, run: RunPolicy, outputs_dir: Path,
               extension_tools: Sequence[Tool] = ()) -> tuple[PermissionGate, list[Tool]]:
    """The permission gate and the tools a run offers: the built-in ones and `extension_tools`
    (the Skill tool...), less those denied outright; rules may name either."""
    from ketch.agent.permissions import PermissionGate
    from ketch.security.host_programs import pin_writable_roots
    from ketch.security.protected import LazyProtectedSet
    from ketch.tools.registry import default_tools

    policy, workspace = run.policy, run.workspace
    allow, ask, deny = _rules(policy.allow), _rules(policy.ask), _rules(policy.deny)
    _check_rules(policy, [*default_tools(), *extension_tools])
    roots = [workspace, *policy.additional_directories]
    # git and bwrap run on the host: never from a folder a tool can write (DESIGN.md §5.5).
    pin_writable_roots(roots)
    gate = PermissionGate(
        mode=policy.default_mode or "default", allow=allow, ask=ask, deny=deny, workspace=workspace,
        extra_roots=list(policy.additional_directories),
        protected=LazyProtectedSet(roots, Path.home(), ketch_home()), home=Path.home(),
        sandboxed=options.sandbox != "off",
    )
    gate.readable.append(outputs_dir)
    denied_outright = {r.tool for r in deny if r.spec is None}
    return gate, [t for t in [*default_tools(), *extension_tools] if t.name not in denied_outright]


def _rules(sources: list[RuleSource]) -> list[Rule]:
    from ketch.agent.permissions import RuleSyntaxError, parse_rules

    rules: list[Rule] = []
    for source in sources:
        try:
            rules += parse_rules([source.rule])
        except RuleSyntaxError as exc:
            where = source.path or ("the command line" if source.layer == "cli" else source.layer)
            raise ConfigError(f"{where}: {exc}") from None
    return rules


class LazySandbox:
    """The sandbox, built at the first command: runs that never start a process skip its cost."""

    def __init__(self, policy_args: dict[str, Any]) -> None:
        self._args = policy_args
        self._sandbox: Sandbox | None = None

    def get(self) -> Sandbox:
        if self._sandbox is None:
            from ketch.security.sandbox import bwrap as sandbox

            self._sandbox = sandbox.Sandbox(sandbox.SandboxPolicy(**self._args))
        return self._sandbox

    def __call__(self, argv: list[str], **kwargs: Any) -> CommandResult:
        return self.get()(argv, **kwargs)

    def read_only(self) -> CommandRunner:
        return self.get().read_only()

    @property
    def state_dir(self) -> Path:
        return self.get().state_dir

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()


def _check_rules(policy: EffectivePolicy, tools: list[Tool]) -> None:
    """Rules that can never match (agent/permissions/rule_check.py): a deny or ask rule, or any rule on the
    command line, stops the run; an allow rule from a file becomes a warning naming the file.

    On the command line an unknown tool is almost always a prompt swallowed by
    `--allowedTools A B "the prompt"` (the flags take several values): say so.
    """
    if not (policy.deny or policy.ask or policy.allow):
        return
    from ketch.agent.permissions import parse_rules
    from ketch.agent.permissions.rule_check import closest_tool, why_never_matches
    from ketch.agent.permissions.rules import Rule

    fields = {t.name: list(t.definition().input_schema.get("properties", {})) for t in tools}
    for kind, sources in (("deny", policy.deny), ("ask", policy.ask), ("allow", policy.allow)):
        for source in sources:
            for rule in parse_rules([source.rule]):
                problem = why_never_matches(rule, fields)
                if problem is None:
                    continue
                if source.layer == "cli" and rule.tool not in fields:
                    near = closest_tool(rule.tool, fields)
                    hint = f" (did you mean {str(Rule(near, rule.spec))!r}?)" if near else ""
                    raise ConfigError(
                        f"unknown tool {rule.tool!r} in a permission rule on the command line{hint}; if that "
                        "was your prompt, put it right after -p (e.g. ketch -p \"fix it\" --allowedTools Edit)")
                if source.layer == "cli":
                    raise ConfigError(f"{kind} rule {str(rule)!r} on the command line {problem}")
                where = f"{source.path}: {kind} rule {str(rule)!r} {problem}"
                if kind == "allow":
                    policy.warnings.append(f"{where} (the rule is ignored)")
                else:
                    raise ConfigError(f"{where} A {kind} rule that never matches would let those calls "
                                      "run without it, so ketch stops here: fix or remove it.")


def sandbox_args(options: RunOptions, workspace: Path, policy: EffectivePolicy) -> dict[str, Any] | None:
    """The SandboxPolicy fields of this run; None when the person explicitly opted out."""
    if options.sandbox == "off":
        return None
    return {
        "workspace": workspace,
        "extra_writable": tuple(policy.additional_directories),
        "ketch_home": ketch_home(),
        "home": Path.home(),
        "allowed_hosts": tuple(policy.allowed_hosts),
        "writable_caches": policy.writable_caches,
        "allow_unix_sockets": policy.allow_unix_sockets,
    }


def build_runner(options: RunOptions, workspace: Path, policy: EffectivePolicy) -> CommandRunner:
    """The CommandRunner for tools: the OS sandbox, unless the user explicitly opted out."""
    args = sandbox_args(options, workspace, policy)
    if args is None:
        from ketch.security.sandbox.process import run_unsandboxed

        return run_unsandboxed
    return LazySandbox(args)


class NoModel:
    """The provider of an Agent that only runs tool calls (`ketch mcp serve`): no model is asked."""

    name = "none"

    def stream(self, request: ModelRequest) -> Iterator[StreamEvent]:
        raise RuntimeError("this agent serves tool calls only; it has no model to ask")

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


def build_tool_agent(options: RunOptions, served: tuple[str, ...]) -> Agent:
    """An Agent whose calls come from an MCP client: the run's gate, sandbox and redaction, the
    tools named in `served` (less those denied outright), and no model behind it."""
    from ketch.agent.loop import Agent, AgentConfig
    from ketch.ids import uuid4
    from ketch.security.credentials import known_secret_values
    from ketch.security.redact import Redactor

    run = load_run_policy(options)
    session_id = uuid4()
    outputs_dir = ketch_home() / "outputs" / session_id
    gate, tools = build_gate(options, run, outputs_dir)
    config = AgentConfig(model="none", provider_name="none", system_prompt="", workspace=run.workspace, gate=gate,
                         outputs_dir=outputs_dir, autocompact_threshold=None,
                         sandbox="off" if options.sandbox == "off" else "bubblewrap",
                         notices=list(run.policy.ignored), warnings=list(run.policy.warnings))
    return Agent(provider=NoModel(), tools=[t for t in tools if t.name in served], config=config,
                 session_id=session_id, redact=Redactor.from_environment(known_secret_values()),
                 runner=build_runner(options, run.workspace, run.policy))
