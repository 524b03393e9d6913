"""The merge: every settings layer read and added up to the policy of one session.

Which layer may set what, and why an untrusted project may only tighten, is told in
config/settings.py's docstring; this module applies it (`load_policy`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ketch.config.settings import (
    LAYERS,
    MODES,
    PROJECT_LAYERS,
    TIGHTENING_MODES,
    LayerSettings,
    managed_settings_path,
    project_settings_paths,
    read_layer,
    user_settings_path,
)
from ketch.errors import ConfigError


@dataclass
class RuleSource:
    """A permission rule and the layer it came from, so errors and prompts can say where."""

    rule: str
    layer: str  # one of LAYERS
    path: Path | None = None  # the settings file, None for the command line


@dataclass
class EffectivePolicy:
    model: str | None = None
    model_layer: str | None = None
    allow: list[RuleSource] = field(default_factory=list)
    ask: list[RuleSource] = field(default_factory=list)
    deny: list[RuleSource] = field(default_factory=list)
    default_mode: str | None = None
    default_mode_layer: str | None = None
    additional_directories: list[Path] = field(default_factory=list)
    allowed_hosts: list[str] = field(default_factory=list)
    # Loosenings of the sandbox only the user (or managed settings) can grant, and any layer can
    # veto: the user's package caches writable, unix sockets creatable (so host ones reachable).
    writable_caches: bool = False
    allow_unix_sockets: bool = False
    bypass_disabled: bool = False
    # One line per thing an untrusted project asked for and did not get.
    ignored: list[str] = field(default_factory=list)
    # One line per key (and, once the tools are known, rule) that means nothing, naming its file.
    warnings: list[str] = field(default_factory=list)


def _display(layer: str) -> str:
    return {"local": ".ketch/settings.local.json", "project": ".ketch/settings.json",
            "claude-local": ".claude/settings.local.json", "claude-project": ".claude/settings.json"}.get(layer, layer)


def _canonical_dir(entry: str, base: Path) -> Path:
    """`~` expanded, relative entries taken from the workspace, symlinks resolved."""
    path = Path(os.path.expanduser(entry))
    return Path(os.path.realpath(path if path.is_absolute() else base / path))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def load_policy(
    workspace: Path,
    *,
    trusted: bool,
    cli_allow: Iterable[str] = (),
    cli_ask: Iterable[str] = (),
    cli_deny: Iterable[str] = (),
    cli_mode: str | None = None,
    cli_model: str | None = None,
    cli_add_dirs: Iterable[str | Path] = (),
) -> EffectivePolicy:
    """Read every layer and merge them into the policy for a session in `workspace`.

    Rules are unioned across layers (the gate applies deny > ask > allow, so a deny from any
    layer, managed ones above all, can never be taken away). The mode and model are taken
    from the highest layer that sets them and may set them; see the module docstring for
    what an untrusted project may do.
    """
    workspace = Path(os.path.realpath(workspace))
    if cli_mode is not None and cli_mode not in MODES:
        raise ConfigError(f"unknown permission mode {cli_mode!r}: use one of {', '.join(MODES)}")
    user_path = user_settings_path()
    layers: dict[str, LayerSettings] = {}
    managed = read_layer(managed_settings_path())
    if managed:
        layers["managed"] = managed
    layers["cli"] = LayerSettings(allow=list(cli_allow), ask=list(cli_ask), deny=list(cli_deny),
                                  default_mode=cli_mode, model=cli_model or None,
                                  additional_directories=[str(d) for d in cli_add_dirs])
    for name, path in project_settings_paths(workspace).items():
        # Run from the home folder, ~/.ketch/settings.json is the user's file, not a project's
        # (and ~/.claude/settings.json is Claude Code's user file: not a project's either).
        if name in ("project", "claude-project") and (_same_file(path, user_path) or _same_file(
                path.parent.parent, Path.home())):
            continue
        layer = read_layer(path)
        if layer:
            layers[name] = layer
    from ketch.config.project_store import read_remembered

    remembered = read_remembered(workspace)
    if remembered:
        layers["remembered"] = remembered
    user = read_layer(user_path)
    if user:
        layers["user"] = user

    policy = EffectivePolicy(bypass_disabled=bool(managed and managed.disable_bypass))
    ignored = policy.ignored
    granted: set[str] = set()
    vetoed: set[str] = set()

    def held_back(layer_name: str) -> bool:
        return layer_name in PROJECT_LAYERS and not trusted

    def note(what: str, layer_name: str) -> None:
        ignored.append(f"{what} from {_display(layer_name)} (folder not trusted)")

    for name in LAYERS:
        layer = layers.get(name)
        if layer is None:
            continue
        policy.warnings += layer.warnings
        policy.deny += [RuleSource(r, name, layer.path) for r in layer.deny]
        policy.ask += [RuleSource(r, name, layer.path) for r in layer.ask]
        for r in layer.allow:
            if held_back(name):
                note(f"allow rule {r}", name)
            else:
                policy.allow.append(RuleSource(r, name, layer.path))
        for entry in layer.additional_directories:
            if held_back(name):
                note(f"additional directory {entry}", name)
            else:
                directory = _canonical_dir(entry, workspace)
                if directory not in policy.additional_directories:
                    policy.additional_directories.append(directory)
        for key, setting in (("writable_caches", "writableCaches"), ("allow_unix_sockets", "allowUnixSockets")):
            value = getattr(layer, key)
            if value is False:
                vetoed.add(key)  # tightening: taken from every layer, trusted or not
            elif value is True and name in PROJECT_LAYERS:
                ignored.append(f"sandbox.{setting} from {_display(name)} (a project's settings can only "
                               "tighten the sandbox; set it in your user settings)")
            elif value is True:
                granted.add(key)
        for host in layer.allowed_hosts:
            if held_back(name):
                note(f"allowed host {host}", name)
            elif host not in policy.allowed_hosts:
                policy.allowed_hosts.append(host)
        if layer.has_env and name in PROJECT_LAYERS:
            ignored.append(f"env from {_display(name)} (ketch never takes environment variables "
                           "or base URLs from settings)")

        if layer.default_mode is not None:
            mode = layer.default_mode
            if held_back(name) and mode not in TIGHTENING_MODES:
                note(f"defaultMode {mode}", name)
            elif mode == "bypassPermissions" and policy.bypass_disabled:
                if name == "cli":
                    raise ConfigError("bypassPermissions mode is disabled by managed settings "
                                      f"({managed_settings_path()}): choose another --permission-mode")
                ignored.append(f"defaultMode bypassPermissions from {_display(name)} "
                               "(disabled by managed settings)")
            elif policy.default_mode is None:
                policy.default_mode, policy.default_mode_layer = mode, name
        if layer.model:
            if held_back(name):
                note(f"model {layer.model}", name)
            elif policy.model is None:
                policy.model, policy.model_layer = layer.model, name
    policy.writable_caches = "writable_caches" in granted and "writable_caches" not in vetoed
    policy.allow_unix_sockets = "allow_unix_sockets" in granted and "allow_unix_sockets" not in vetoed
    return policy
