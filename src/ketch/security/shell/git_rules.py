"""Option lists for the git subcommands the built-in rules let run without asking.

`git add`, `git commit`, `git stash`, `git branch NAME`, `git switch`, `git checkout -b` and
`git restore --staged` are ordinary work. The same subcommands also lose what ketch's undo
cannot bring back — branches (`branch -D`, `-M`, `-f`, `switch -C`), stashes (`stash clear`,
`drop`), uncommitted work (`switch --discard-changes`, `checkout -f`, `restore --worktree`,
`switch -m`) — or open an editor, or read a file named on the command line (`commit -F`,
which must then be inside the workspace). Undo snapshots the working tree, not refs or
stashes, so each of those asks.
"""

from __future__ import annotations

from ketch.security.shell.options import Check, Grammar, reads_paths, scan, table

_PATHSPEC_FILE = "--pathspec-from-file"

ADD = Grammar(table(
    flag="-A --all --no-all -u --update -N --intent-to-add -f --force -v --verbose -n --dry-run --ignore-errors "
         "--renormalize --ignore-removal --no-ignore-removal --sparse --refresh --ignore-missing "
         "--pathspec-file-nul --no-warn-embedded-repo",
    value="--chmod",
    read=_PATHSPEC_FILE,
))

COMMIT = Grammar(table(
    flag="-a --all -q --quiet -v --verbose --amend --no-edit -s --signoff --no-signoff --allow-empty "
         "--allow-empty-message -n --no-verify --verify --dry-run --short --porcelain --long --branch --status "
         "--no-status -o --only -i --include --reset-author --no-post-rewrite -z --null --pathspec-file-nul",
    value="-m --message -C --reuse-message --fixup --squash --author --date --cleanup --trailer",
    optional="-u --untracked-files",
    read="-F --file -t --template " + _PATHSPEC_FILE,
))

_STASH_PUSH = Grammar(table(
    flag="-k --keep-index --no-keep-index -u --include-untracked --no-include-untracked -a --all -q --quiet "
         "-S --staged --pathspec-file-nul",
    value="-m --message",
    read=_PATHSPEC_FILE,
))
_STASH_APPLY = Grammar(table(flag="--index -q --quiet"))
_STASH_LOSES = {"clear": "deletes every stash", "drop": "deletes a stash"}

BRANCH = Grammar(table(
    flag="-a --all -r --remotes -v -vv --verbose -l --list --show-current --no-color --no-column -i "
         "--ignore-case --no-abbrev --omit-empty --no-track --create-reflog -q --quiet -m --move -c --copy",
    optional="--color --column --abbrev -t --track",
    value="--contains --no-contains --merged --no-merged --points-at --sort --format",
))

SWITCH = Grammar(table(
    flag="-d --detach --guess --no-guess --no-track -q --quiet --progress --no-progress --ignore-other-worktrees",
    value="-c --create",
    optional="-t --track",
))

CHECKOUT_B = Grammar(table(
    flag="-q --quiet --progress --no-progress --no-track --guess --no-guess",
    value="-b",
    optional="-t --track",
))

RESTORE_STAGED = Grammar(table(
    flag="-S --staged -q --quiet --progress --no-progress --overlay --no-overlay --pathspec-file-nul "
         "--no-recurse-submodules",
    value="-s --source",
    read=_PATHSPEC_FILE,
))


def _pathspecs(scanned: tuple[Check, list[str]]) -> Check:
    check, rest = scanned
    check.reads.extend(rest)
    return check


def add(args: list[str]) -> Check:
    return _pathspecs(scan(args, ADD, reads_paths, program="git add"))


def commit(args: list[str]) -> Check:
    return _pathspecs(scan(args, COMMIT, reads_paths, program="git commit"))


def stash(args: list[str]) -> Check:
    sub = args[0] if args and not args[0].startswith("-") else "push"
    rest = args[1:] if args and not args[0].startswith("-") else args
    if sub in _STASH_LOSES:
        return Check().refuse(f"git stash {sub} {_STASH_LOSES[sub]}, which undo cannot bring back")
    if sub in ("push", "save"):
        message_words = reads_paths if sub == "push" else (lambda word, check: None)
        return _pathspecs(scan(rest, _STASH_PUSH, message_words, program=f"git stash {sub}"))
    if sub in ("apply", "pop", "list", "show", "branch", "create"):
        grammar = _STASH_APPLY if sub in ("apply", "pop") else Grammar({})
        check, extra = scan(rest, grammar, lambda word, check: None, program=f"git stash {sub}")
        return check.refuse("arguments after `--`") if extra and sub != "show" else check
    return Check().refuse(f"git stash {sub} is not on the list of stash commands that run without asking")


def branch(args: list[str]) -> Check:
    """List, create (`git branch NAME [START]`), rename or copy without force; never delete,
    force-reset (`-f`, `-M`, `-C`), edit a description, or set an upstream."""
    names: list[str] = []
    check, rest = scan(args, BRANCH, lambda word, c: names.append(word), program="git branch")
    if rest:
        return check.refuse("arguments after `--`")
    return check.refuse("too many branch names") if len(names) > 2 else check


def switch(args: list[str]) -> Check:
    """Never `-C`/`--force-create` (resets a branch), `-f`/`--discard-changes`, `-m`,
    `--orphan`, `--recurse-submodules`."""
    names: list[str] = []
    check, rest = scan(args, SWITCH, lambda word, c: names.append(word), program="git switch")
    if rest:
        return check.refuse("arguments after `--`")
    return check.refuse("too many arguments") if len(names) > 1 else check


def checkout_b(args: list[str]) -> Check:
    """`git checkout -b NEW [START]` only: no paths (they would overwrite files), no `-f`,
    `-B`, `--orphan`, `-m`, `--ours`/`--theirs`."""
    names: list[str] = []
    check, rest = scan(args, CHECKOUT_B, lambda word, c: names.append(word), program="git checkout")
    if rest:
        return check.refuse("paths after `--` would be overwritten from the index")
    return check.refuse("too many arguments") if len(names) > 1 else check


def restore_staged(args: list[str]) -> Check:
    """Only the index changes: never `-W`/`--worktree`, `--ours`/`--theirs`, `-m`."""
    return _pathspecs(scan(args, RESTORE_STAGED, reads_paths, program="git restore"))


def init(args: list[str]) -> Check:
    return Check().refuse("git init takes arguments") if args else Check()

