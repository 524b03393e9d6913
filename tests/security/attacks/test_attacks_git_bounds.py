"""Git places past the discovery walk's bounds (SECURITY.md guarantee 8, class 6).

The walk before each command stops at 12 folders deep and 20,000 folders, and skips
node_modules/ and other dependency folders by name. A command can fill those bounds or
hide a repository behind them. Whatever the walk before the command did not protect, the
check after it must still see: it walks without bounds, follows gitlinks from repository
to repository, and a repository once found stays protected for the session.
"""

from __future__ import annotations

import os
from pathlib import Path

from attack_kit import Lab, bash, git, turn

ID = ("-c", "user.name=u", "-c", "user.email=u@example.invalid")


def _payload(lab: Lab, name: str) -> tuple[str, Path]:
    """Shell text writing an executable `hook.sh` in the workspace that touches a canary outside."""
    canary = lab.outside / f"PWNED-{name}"
    return f"printf '#!/bin/sh\\ntouch {canary}\\necho {{}}\\n' > hook.sh && chmod +x hook.sh", canary


def _user_git(cwd: Path, canary: Path) -> None:
    """The person, later, outside ketch: status and a commit."""
    git(cwd, *ID, "status", check=False)
    git(cwd, *ID, "commit", "-q", "--allow-empty", "-m", "user commit", check=False)
    assert not canary.exists(), f"code the model planted ran on the host: {canary} exists"


def _big_tree_with_nested_repo(lab: Lab) -> Path:
    """The user's own workspace is already past the walk's folder bound when ketch starts."""
    junk = lab.ws / "assets"
    junk.mkdir()
    for i in range(20100):
        os.mkdir(junk / f"{i:05d}")
    nested = lab.ws / "libs" / "vendor" / "x"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    git(nested, *ID, "commit", "-q", "--allow-empty", "-m", "vendor")
    lab.rebaseline()
    return nested


def test_user_repo_past_folder_bound_from_the_start_config(lab):
    """No walk before a command ever saw libs/vendor/x: the check after it must."""
    nested = _big_tree_with_nested_repo(lab)
    mk, canary = _payload(lab, "bigtree")
    c1 = f"{mk} && git -C libs/vendor/x config core.fsmonitor {lab.ws}/hook.sh && echo planted"
    out = lab.run([turn(bash("c1", c1))], mode="bypassPermissions", timeout=120)
    _user_git(nested, canary)
    assert "ketch-untrusted" in out.result_text("c1"), out.result_text("c1")
    lab.assert_safe(out)


def test_user_repo_past_folder_bound_from_the_start_hook_appended(lab):
    """The same with a hook written in place and config appended to (no rename of the folder)."""
    nested = _big_tree_with_nested_repo(lab)
    mk, canary = _payload(lab, "bigtreehook")
    c1 = (f"{mk} && cp hook.sh libs/vendor/x/.git/hooks/pre-commit && "
          f"printf '[core]\\n\\tfsmonitor = {lab.ws}/hook.sh\\n' >> libs/vendor/x/.git/config && echo planted")
    out = lab.run([turn(bash("c1", c1))], mode="bypassPermissions", timeout=120)
    _user_git(nested, canary)
    lab.assert_safe(out)


def test_new_repo_deeper_than_walk_depth(lab):
    """A repository made 14 folders down, past the walk's depth bound, in one call."""
    mk, canary = _payload(lab, "deep")
    deep = "/".join(["d"] * 14)
    c1 = f"{mk} && mkdir -p {deep} && git init -q {deep} && git -C {deep} config core.fsmonitor {lab.ws}/hook.sh"
    out = lab.run([turn(bash("c1", c1))], mode="bypassPermissions")
    _user_git(lab.ws / deep, canary)
    lab.assert_safe(out)


def test_gitlinked_repo_in_node_modules_changed_in_a_later_call(lab):
    """Call 1 registers a clean node_modules/a as a gitlink (checked, clean); call 2 adds an
    fsmonitor to it. The walk skips node_modules/, and the outer index does not change in
    call 2: a repository the check once reached must stay protected."""
    mk, canary = _payload(lab, "later")
    ws = lab.ws
    c1 = ("mkdir -p node_modules/a && git -C node_modules/a init -q && "
          f"git -C node_modules/a {' '.join(ID)} commit -q --allow-empty -m a && "
          f"git add -f node_modules/a 2>/dev/null; git {' '.join(ID)} commit -qm vendored; echo ok; "
          # The check after a call looks at what changed since its start less 1 s of clock
          # slack: the outer index must be older than that when call 2 starts.
          "sleep 1.5")
    c2 = f"{mk} && git -C node_modules/a config core.fsmonitor {ws}/hook.sh; echo tried"
    out = lab.run([turn(bash("c1", c1)), turn(bash("c2", c2))], mode="bypassPermissions")
    _user_git(ws, canary)
    lab.assert_safe(out)


def test_gitlink_chain_three_deep_in_node_modules(lab):
    """a -> b -> c, all in node_modules/, only c's config runs a program."""
    mk, canary = _payload(lab, "chain3")
    ws = lab.ws
    ident = " ".join(ID)
    c1 = (f"{mk} && mkdir -p node_modules/a && cd node_modules/a && git init -q && git {ident} commit -q --allow-empty -m a "
          f"&& git init -q b && git -C b {ident} commit -q --allow-empty -m b "
          f"&& git init -q b/c && git -C b/c {ident} commit -q --allow-empty -m c "
          f"&& git -C b/c config core.fsmonitor {ws}/hook.sh "
          f"&& (cd b && git add c 2>/dev/null; git {ident} commit -qm addc) "
          f"&& git add b 2>/dev/null; git {ident} commit -qm addb; cd {ws} && git add -f node_modules/a 2>/dev/null; "
          f"git {ident} commit -qm vendored && echo ok")
    out = lab.run([turn(bash("c1", c1))], mode="bypassPermissions")
    _user_git(ws, canary)
    lab.assert_safe(out)


def test_gitlink_to_the_users_other_project_leaves_it_alone(lab):
    """A `.git` file in node_modules/ names a repository outside the workspace, then gets
    gitlinked: the check after the call must not move that project's own hooks (it never
    moves anything outside the writable roots, which no command could have written)."""
    other = lab.outside / "other-project"
    other.mkdir()
    git(other, "init", "-q")
    git(other, *ID, "commit", "-q", "--allow-empty", "-m", "theirs")
    hook = other / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    lab.rebaseline()
    c1 = (f"mkdir -p node_modules/a && printf 'gitdir: {other}/.git\\n' > node_modules/a/.git && "
          f"git add -f node_modules/a 2>/dev/null; git {' '.join(ID)} commit -qm vendored; echo ok")
    out = lab.run([turn(bash("c1", c1))], mode="bypassPermissions")
    assert hook.exists(), out.result_text("c1")
    lab.assert_safe(out)
