"""Shell-command analysis for the permission gate (DESIGN.md §5.7, §5.9).

The model writing the command is the attacker and has read the analyser. Each case here is
either ordinary work that must pass, or a trick (parser differential, wrapper, substitution,
dangerous flag, padding) that must not. Several came from differential fuzzing against bash.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ketch.security.shell import (
    ShellAnalysis,
    SimpleCommand,
    analyze,
    exact_matches,
    is_read_only,
    prefix_matches,
    runs_arbitrary_code,
    wildcard_matches,
)


def argvs(command: str) -> list[list[str]]:
    return [c.argv for c in analyze(command).commands]


def only(command: str) -> SimpleCommand:
    analysis = analyze(command)
    assert len(analysis.commands) == 1, analysis
    return analysis.commands[0]


def clean(command: str) -> ShellAnalysis:
    analysis = analyze(command)
    assert analysis.problems == [], analysis.problems
    assert analysis.auto_allowable
    return analysis


def read_only(command: str) -> bool:
    """The whole line is read-only: no problems and every command only reads."""
    analysis = analyze(command)
    return analysis.auto_allowable and all(is_read_only(c) for c in analysis.commands)


# -- splitting ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command, expected", [
    ("a x && b y", [["a", "x"], ["b", "y"]]),
    ("a || b", [["a"], ["b"]]),
    ("a; b;c", [["a"], ["b"], ["c"]]),
    ("a | b | c", [["a"], ["b"], ["c"]]),
    ("a |& b", [["a"], ["b"]]),
    ("a & b", [["a"], ["b"]]),
    ("a\nb\n\nc", [["a"], ["b"], ["c"]]),
    ("(a; b)", [["a"], ["b"]]),
    ("{ a; b; }", [["a"], ["b"]]),
    ("if a; then b; elif c; then d; else e; fi", [["a"], ["b"], ["c"], ["d"], ["e"]]),
    ("while a; do b; done", [["a"], ["b"]]),
    ("until a; do b; done", [["a"], ["b"]]),
    ("for f in x y; do wc -l \"$f\"; done", [["wc", "-l", "$f"]]),
    ("case $x in a|b) c;; *) d;; esac", [["c"], ["d"]]),
    ("! a", [["a"]]),
    ("a && (b || { c; d; }) | e", [["a"], ["b"], ["c"], ["d"], ["e"]]),
    ("ls\t-la", [["ls", "-la"]]),
    ("ls -la # a comment", [["ls", "-la"]]),
])
def test_compound_commands_are_split_into_every_simple_command(command, expected):
    assert argvs(command) == expected


def test_a_redirect_on_a_group_applies_to_every_command_inside():
    for cmd in analyze("{ ls; cat a; } > out").commands:
        assert cmd.redirects[-1].target == "out"
        assert not is_read_only(cmd)


def test_words_the_grammar_hangs_on_a_redirect_are_still_arguments():
    # tree-sitter-bash attaches `-delete` to `>/dev/null`; bash passes it to find.
    assert argvs("find . >/dev/null -delete") == [["find", ".", "-delete"]]
    assert not read_only("find . >/dev/null -delete")


def test_redirects_are_reported_with_their_descriptor():
    cmd = only("ls 2>/dev/null >out 2>&1 <in")
    assert [(r.op, r.target) for r in cmd.redirects] == [
        ("2>", "/dev/null"), (">", "out"), ("2>", "&1"), ("<", "in")]


def test_a_file_named_like_a_descriptor_copy_is_not_one():
    cmd = only("echo hi > '&1'")
    assert cmd.redirects[0].target == "./&1"
    assert not is_read_only(cmd)


# -- wrappers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("command, argv, wrappers", [
    ("timeout 5 rm x", ["rm", "x"], ["timeout"]),
    ("timeout -k 5 -s KILL 10 rm x", ["rm", "x"], ["timeout"]),
    ("timeout --kill=5 10 rm x", ["rm", "x"], ["timeout"]),  # getopt_long abbreviation
    ("nice -n 10 rm x", ["rm", "x"], ["nice"]),
    ("nice -5 rm x", ["rm", "x"], ["nice"]),
    ("nohup rm x", ["rm", "x"], ["nohup"]),
    ("env -i -u HOME A=1 rm x", ["rm", "x"], ["env"]),
    ("command rm x", ["rm", "x"], ["command"]),
    ("builtin cd x", ["cd", "x"], ["builtin"]),
    ("time -p rm x", ["rm", "x"], ["time"]),
    ("stdbuf -oL -e0 rm x", ["rm", "x"], ["stdbuf"]),
    ("ionice -c 3 rm x", ["rm", "x"], ["ionice"]),
    ("xargs -0 -n 1 -P 4 rm -f", ["rm", "-f"], ["xargs"]),
    ("xargs -I {} mv {} dst", ["mv", "{}", "dst"], ["xargs"]),
    ("sudo -u root rm x", ["rm", "x"], ["sudo"]),
    ("doas rm x", ["rm", "x"], ["doas"]),
    ("exec rm x", ["rm", "x"], ["exec"]),
    ("nice timeout 5 env X=1 rm x", ["rm", "x"], ["nice", "timeout", "env"]),
])
def test_wrappers_are_looked_through(command, argv, wrappers):
    cmd = only(command)
    assert (cmd.argv, cmd.wrappers) == (argv, wrappers)


def test_wrappers_named_by_path_are_looked_through_but_only_trusted_ones_count():
    assert only("/usr/bin/timeout 5 rm x").argv == ["rm", "x"]
    assert only("env - rm x").argv == ["rm", "x"]  # a lone `-` is env's -i
    assert is_read_only(only("/usr/bin/env ls"))
    planted = only("/tmp/evil/timeout 5 ls")
    assert planted.argv == ["ls"] and not is_read_only(planted)
    assert only("/usr/bin/sudo rm x").wrappers == ["sudo"]


def test_assignments_given_to_env_are_assignments_of_the_command():
    cmd = only("LC_ALL=C env RIPGREP_CONFIG_PATH=x rg foo")
    assert cmd.assignments == ["LC_ALL=C", "RIPGREP_CONFIG_PATH=x"]
    assert not is_read_only(cmd)


@pytest.mark.parametrize("command, argv", [
    ("env", ["env"]),
    ("env -i", ["env", "-i"]),
    ("command -v rg", ["command", "-v", "rg"]),
    ("xargs", ["echo"]),
])
def test_wrappers_that_wrap_nothing(command, argv):
    assert only(command).argv == argv


def test_xargs_marks_words_it_substitutes_and_adds():
    cmd = only("xargs -I{} grep {} file")
    assert cmd.input_args and not cmd.words[1].literal
    assert is_read_only(only(["find . -name '*.py' ", "xargs grep -n foo"][1]))
    assert not is_read_only(only("xargs rg foo"))  # input could supply --pre=prog
    assert runs_arbitrary_code(only("xargs grep foo"))


def test_env_split_string_is_followed_and_flagged():
    analysis = analyze("env -S 'rm -rf x'")
    assert analysis.commands[0].argv == ["rm", "-rf", "x"]
    assert "env -S" in analysis.problems


def test_a_wrapper_that_writes_is_not_read_only():
    assert not is_read_only(only("time -o out ls"))
    assert not is_read_only(only("\\time --output=out ls"))
    assert not is_read_only(only("nohup ls"))
    assert not is_read_only(only("env -C /tmp ls"))
    assert is_read_only(only("timeout 5 nice -n 2 ls -la"))


def test_an_expansion_among_wrapper_options_is_a_problem():
    analysis = analyze("timeout $T rm x")
    assert analysis.commands[0].argv == ["rm", "x"]
    assert "expansion in timeout arguments" in analysis.problems


# -- substitution ------------------------------------------------------------------------------

@pytest.mark.parametrize("command, problem", [
    ("echo $(rm x)", "command substitution"),
    ("echo `rm x`", "command substitution"),
    ('echo "a $(rm x) b"', "command substitution"),
    ('echo "`rm x`"', "command substitution"),
    ("ls > $(rm x)", "command substitution"),
    ('ls > "$(rm x)"', "command substitution"),
    ("X=$(rm x) ls", "command substitution"),
    ("echo ${y:-$(rm x)}", "command substitution"),
    ("for f in $(rm x); do :; done", "command substitution"),
    ("case $(rm x) in *) ;; esac", "command substitution"),
    ("[[ $(rm x) == y ]]", "command substitution"),
    ("echo $(echo $(rm x))", "command substitution"),
    ("cat <<EOF\n$(rm x)\nEOF", "command substitution"),
    ("cat <<EOF\n`rm x`\nEOF", "command substitution"),
    ("cat <<< $(rm x)", "command substitution"),
    ("diff <(rm x) b", "process substitution"),
    ("tee >(rm x)", "process substitution"),
    ("cat > >(rm x)", "process substitution"),
])
def test_substitution_anywhere_is_a_problem_and_its_commands_are_listed(command, problem):
    analysis = analyze(command)
    assert problem in analysis.problems
    assert not analysis.auto_allowable
    assert ["rm", "x"] in [c.argv for c in analysis.commands]


def test_a_quoted_heredoc_body_is_data():
    analysis = clean("cat <<'EOF' | head -3\n$(rm x) `rm y`\nEOF")
    assert [c.argv for c in analysis.commands] == [["cat"], ["head", "-3"]]
    assert read_only("cat <<'EOF'\n$(rm x)\nEOF")
    assert read_only("cat <<EOF\nhello $USER\nEOF")


def test_arithmetic_is_fine_on_literals_but_not_on_variables():
    assert clean("echo $((2 * 3))")
    # x='a[$(id)]'; echo $((x)) runs id: arithmetic evaluates variable contents.
    for command in ("x='a[$(id)]'; echo $((x))", "echo $((x + 1))", "(( i++ ))", "echo ${a[$i]}",
                    "echo ${s:n}", "[[ $a -eq 1 ]]", "a[i]=1 ls", "echo $[x]"):
        assert "variable in arithmetic" in analyze(command).problems, command
    assert not analyze("echo ${s:$n}").auto_allowable


@pytest.mark.parametrize("command, problem", [
    ("echo ${!x}", "unsupported expansion"),
    ("echo ${x@P}", "parameter transformation"),
    ("echo ${x:=y}", "assignment in expansion"),
    ("[[ -v 'a[$(id)]' ]]", "variable test in [[ ]]"),
])
def test_expansions_that_can_run_code_are_problems(command, problem):
    assert problem in analyze(command).problems


def test_variables_as_arguments_are_fine_but_never_as_the_command_name():
    assert clean("echo $HOME ${USER}")
    assert "variable used as command name" in analyze("$X -rf /").problems
    assert "variable used as command name" in analyze("ls; ${X} a").problems
    assert "variable used as command name" in analyze("timeout 5 $CMD").problems
    assert "expansion in command name" in analyze("/???/rm x").problems
    assert "expansion in command name" in analyze("~/bin/tool").problems


def test_an_expanded_word_never_equals_a_literal():
    cmd = only("cat $HOME/x")
    assert cmd.argv == ["cat", "$HOME/x"] and not cmd.words[1].literal
    assert not exact_matches("cat /root/x", cmd)
    assert not exact_matches("cat $HOME/x", cmd)
    assert not prefix_matches("rm", only("'$X' a")) and only("'$X' a").argv == ["$X", "a"]


# -- parse errors and limits ---------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "ls &&", "echo 'unbalanced", 'echo "unbalanced', "echo $(", "ls;;", "if true; then", "{ls;}", "{}",
    "{rm,-rf,x}", "ls | | wc", "cat <<EOF\nEOF \nrm -rf y\nEOF", "--y=EOF", "ls {fd}>out",
])
def test_parse_errors_fail_closed(command):
    analysis = analyze(command)
    assert not analysis.auto_allowable
    assert {"parse error", "heredoc"} & set(analysis.problems)


def test_limits():
    assert "too long" in analyze("ls " + "a" * 10_001).problems
    assert "too many commands" in analyze(";".join(["ls"] * 51)).problems
    assert analyze(";".join(["ls"] * 50)).auto_allowable
    assert "too deeply nested" in analyze("$(" * 400 + ")" * 400).problems


@pytest.mark.parametrize("command", ["ls\x00 -la", "ls\r rm x", "ls\u00a0-la", "ls\u2028rm"])
def test_control_and_invisible_characters_are_problems(command):
    assert not analyze(command).auto_allowable


@pytest.mark.parametrize("command, problem", [
    ("f() { rm -rf x; }; f", "function definition"),
    ("function f { ls; }", "function definition"),
    ("eval 'rm -rf x'", "eval"),
    ("alias ls='rm -rf ~'", "alias"),
    ("coproc rm x", "coproc"),
    ("for PATH in ./evil; do git status; done", "loop variable PATH"),
])
def test_constructs_that_change_what_later_words_mean_are_problems(command, problem):
    assert problem in analyze(command).problems


def test_code_in_strings_is_listed_so_deny_rules_reach_it():
    for command, origin in (("bash -c 'rm -rf x'", "bash -c"), ("sh -ec 'ls; rm -rf x'", "sh -c"),
                            ("eval 'rm -rf x'", "eval"), ("find . -exec rm -rf {} \\;", "find -exec"),
                            ("watch 'rm -rf x'", "watch"), ("timeout 5 bash -c 'rm -rf x'", "bash -c"),
                            ("trap 'rm -rf x' EXIT", "trap"), ("xargs sh -c 'rm -rf \"$@\"' _", "sh -c"),
                            ("cat <<EOF\n`rm -rf x`\nEOF", "heredoc")):
        nested = [c for c in analyze(command).commands if c.origin == origin]
        assert nested and nested[-1].argv[0] == "rm", command


# -- obfuscation and parser differentials ------------------------------------------------------------

@pytest.mark.parametrize("command, argv", [
    ("r\\m -rf x", ["rm", "-rf", "x"]),
    ("'r''m' -rf x", ["rm", "-rf", "x"]),
    ('"r"m -rf x', ["rm", "-rf", "x"]),
    ("\\ls", ["ls"]),
    ("r\\\nm -rf x", ["rm", "-rf", "x"]),           # bash joins a line continuation inside a word
    ("ls \\\n  -la", ["ls", "-la"]),
    ("$'\\x72m' x", ["rm", "x"]),
    ("$'\\162\\155' x", ["rm", "x"]),
    ("$'\\u0072m' x", ["rm", "x"]),
    ("$'r\\x00junk'm x", ["rm", "x"]),              # bash stops an ANSI-C string at NUL
    ("! ! rm x", ["rm", "x"]),                     # double negation, misread by the grammar
    ("echo a\\ b \"c\\\"d\" 'e\\f' \"g\\h\"", ["echo", "a b", 'c"d', "e\\f", "g\\h"]),
])
def test_obfuscated_words_unquote_like_bash(command, argv):
    assert argvs(command) == [argv]


def test_undecodable_ansi_c_strings_are_never_a_different_literal():
    analysis = analyze("$'\\xff\\x72m' x")
    assert not analysis.auto_allowable
    assert not analysis.commands[0].words[0].literal
    assert not analyze("$'\\u00e9' x").commands[0].words[0].literal  # depends on the locale


def test_a_comment_does_not_continue_onto_the_next_line():
    assert argvs("ls # note \\\nrm x") == [["ls"], ["rm", "x"]]


@pytest.mark.parametrize("command", [
    "! for v in a; do rm -rf x; done",   # the grammar reads `!` as a command here
    "{ ! for v in a b; do rm x; done; }",
    "!]foo",
    "x <<<\"\"\\$\\; rm",                  # one here-string word to bash, two to the grammar
])
def test_known_grammar_misreadings_are_parse_errors(command):
    assert "parse error" in analyze(command).problems


def test_heredoc_ends_only_on_an_exact_delimiter_line():
    assert "heredoc" in analyze("cat <<EOF\nx\\\nEOF\nrm -rf y\nEOF").problems
    assert clean("cat <<-EOF\n\tbody\nEOF\nls").commands[-1].argv == ["ls"]


# -- read-only -------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "git status", "git diff HEAD~1 -- src", "git log --oneline -5", "git log -p --follow -- a.py",
    "git show HEAD:src/a.py", "git branch -a", "git branch --show-current", "git tag -l 'v1.*'",
    "git config --get user.email", "git remote -v", "git stash list", "git rev-parse --abbrev-ref HEAD",
    "git blame -L 10,20 a.py", "git --no-pager log -1", "git grep -n foo",
    "rg -n foo src", "rg -n 'def (\\w+)' --type py src/", "rg foo src/*", "ls -la", "ls *.py",
    "find . -name '*.py'", "find . -type f -not -path './node_modules/*'", "cat a | grep x | wc -l",
    "sed -n 1,20p f", "sed -n '/^def /p' f", "sed 's/[0-9]\\+//g' f", "sed -ne '1p;$p' f",
    "head -n 50 README.md", "tail -f log", "grep -rn TODO --include='*.py' .", "echo hi | tr a-z A-Z",
    "sort -u names | uniq -c", "uniq file", "jq '.a | keys' package.json", "du -sh .", "date -Iseconds",
    "LC_ALL=C sort file", "[ -f setup.py ] && echo yes", "[[ -d src ]] && ls src", "test -f x || echo no",
    "which python3", "type -a ls", "command -v rg", "printf '%s\\n' a b", "ls -la 2>/dev/null | head -20",
    "grep -c '' f > /dev/null 2>&1", "echo done >&2", "cat < in", "cat <<< 'hi'", "pwd && ls",
    "find . -name '*.py' -print0 | xargs -0 wc -l", "diff -u a b", "/usr/bin/ls -la", "hostname -f",
    "wc -l src/*.py", "stat -c %s f", "env", "printenv HOME", ":", "LC_ALL=C",
    "while read -r line; do echo \"$line\"; done < f", "timeout 5 git status",
])
def test_ordinary_reading_is_read_only(command):
    assert read_only(command), analyze(command)


@pytest.mark.parametrize("command", [
    # dangerous flags
    "find . -delete", "find . -exec rm {} ;", "find . -execdir x {} +", "find . -ok rm {} ;",
    "find . -fprint out", "find . -fls out", "find *",
    "rg --pre ./evil foo", "rg --pre=./evil foo", "rg --pre-glob '*' foo", "rg -z foo", "rg -nz foo",
    "rg --search-zip foo", "rg --hostname-bin=./x foo", "rg foo *",
    "sort -o out f", "sort -uo out f", "sort --output=out f", "sort --out=out f",
    "sort --compress-program=./x f", "uniq in out", "tree -o out", "tree -R", "date -s 2020-01-01",
    "date --set=now", "file -C -m x", "hostname evil", "printf -v PATH x", "test -v x", "[ -v x ]",
    # sed
    "sed -i s/a/b/ f", "sed -ni p f", "sed --in-place p f", "sed --in p f", "sed 's/a/b/e' f",
    "sed 's/a/b/w out' f", "sed 1w out f", "sed e f", "sed -f script f", "sed -n 's/[/]/g#/e' f",
    "sed '\\' f", "sed -n '1,\\' f", "sed -n '1p;\\' f",  # an address cut after its backslash (crashed the gate)
    # git
    "git -c core.pager=sh log", "git --config-env=core.pager=X log", "git -C /tmp status",
    "git --git-dir=x log", "git --work-tree=x status", "git -p log", "git --exec-path=/x status",
    "git diff --output=x", "git log --outp=x", "git diff --ext-diff", "git show --output x",
    "git grep -O foo", "git grep --open-files-in-pager foo", "git branch -D main", "git branch new",
    "git branch -m a b", "git tag v1", "git tag -d v1", "git config user.name x", "git remote add o u",
    "git stash", "git reflog expire --all", "git log $X", "git commit -m x", "git push",
    # redirects, assignments, others
    "ls > out", "ls >> out", "ls &> out", "ls >| out", "ls 3> out", "ls <> f", "echo x > ~/.bashrc",
    "RIPGREP_CONFIG_PATH=x rg foo", "LD_PRELOAD=x ls", "PATH=. ls", "GIT_EXTERNAL_DIFF=x git diff",
    "PAGER=x git log", "FOO=1 ls", "PATH=./evil; git status", "tee out", "xargs rm", "awk '{print}' f",
    "less f", "cd src", "./ls", "bin/ls", "sudo ls", "cp a b", "mkdir x", "X=1", "read PATH",
    "read 'a[$(id)]'", "cat < /dev/tcp/example.com/80", "file -z x", "exec ls",
])
def test_writing_running_or_unknown_is_not_read_only(command):
    assert not read_only(command), analyze(command)


def test_uniq_with_one_operand_only_reads():
    assert is_read_only(only("uniq -c -f 2 in"))
    assert not is_read_only(only("uniq -c in out"))
    assert not is_read_only(only("uniq $FILES"))


# -- runs_arbitrary_code -------------------------------------------------------------------------

@pytest.mark.parametrize("command", [
    "bash -c 'ls'", "sh script.sh", "bash", "zsh -c x", "dash", "fish -c x", "python -c 1",
    "python3 -m pytest", "python3.12 script.py", "python", "node -e 1", "deno run x", "bun x",
    "perl -e 1", "ruby -e 1", "php -r 1", "lua x", "osascript -e x", "pwsh -c x", "eval ls",
    "source x", ". x", "exec ls", "xargs ls", "find . -exec ls ;", "find . -execdir ls ;", "find . -ok ls ;",
    "git -c core.pager=sh log", "git --exec-path=/x log", "git push --receive-pack=x", "git fetch --upload-pack=x",
    "git clone -u x y", "git difftool", "git submodule foreach ls", "git bisect run ls", "git rebase -x ls",
    "make", "make test", "npx x", "npm exec x", "pnpm dlx x", "yarn dlx x", "sudo ls", "ssh h ls",
    "docker run x", "docker exec c ls", "kubectl exec p -- ls", "watch ls", "awk '{print}'", "gawk x",
    "sed 's/a/b/e'", "sed -f s.sed", "vim -c x", "nvim", "emacs --eval x", "tmux", "screen",
    "./script.sh", "rg --pre ./x foo", "sort --compress-program=x", "tar -I x -cf a b", "trap 'ls' EXIT",
    "timeout 5 bash -c x", "nohup python x.py", "env A=1 python -c 1", "[ -v 'a[$(id)]' ]",
])
def test_programs_that_run_arbitrary_code(command):
    assert any(runs_arbitrary_code(c) for c in analyze(command).commands), command


@pytest.mark.parametrize("command", [
    "ls -la", "git status", "git log", "git commit -m x", "git push -u origin main", "npm run test",
    "npm test", "pytest -q", "cargo test", "rm -rf x", "mkdir x", "sed -n p f", "sed 's/a/b/' f",
    "find . -name x", "rg foo", "timeout 5 ls", "env A=1 ls", "python3 --version", "command -v x",
])
def test_programs_that_do_not_run_arbitrary_code(command):
    assert not any(runs_arbitrary_code(c) for c in analyze(command).commands), command


# -- rule matching ------------------------------------------------------------------------------------

def test_prefix_rules_match_word_by_word():
    assert prefix_matches("git log", only("git log --oneline"))
    assert prefix_matches("git log", only("git log"))
    assert prefix_matches("git log:*", only("git log -5"))
    assert not prefix_matches("git log", only("git logx"))
    assert not prefix_matches("git log", only("git log2"))
    assert prefix_matches("npm run test", only("npm run test -- -x"))
    assert not prefix_matches("npm run test", only("npm run testing"))
    assert not prefix_matches("git log", only("git"))
    assert prefix_matches("npm test", only("timeout 60 npm test"))  # wrappers are looked through
    assert not prefix_matches("timeout", only("timeout 60 rm x"))


def test_exact_rules():
    assert exact_matches("git status", only("git status"))
    assert exact_matches("echo 'a b'", only('echo "a b"'))
    assert not exact_matches("echo a b", only("echo 'a b'"))
    assert not exact_matches("git status", only("git status -s"))
    assert not exact_matches("rm", only("xargs rm"))  # xargs adds arguments
    assert not exact_matches("bad 'rule", only("bad rule"))


def test_wildcard_rules_are_anchored_and_word_aware():
    assert wildcard_matches("git * main", only("git push origin main"))
    assert wildcard_matches("git * main", only("git main"))
    assert not wildcard_matches("git * main", only("git push origin main2"))
    assert not wildcard_matches("git * main", only("git commit -m 'x main'"))
    assert wildcard_matches("git push*", only("git push --force"))
    assert wildcard_matches("* --version", only("python3 --version"))
    assert not wildcard_matches("git * main", only("xgit push main"))


def test_expanded_words_match_only_a_wildcard_in_allow_rules():
    assert not prefix_matches("npm run test", only("npm run $X"))
    assert not exact_matches("ls x", only("ls $X"))
    assert wildcard_matches("git push *", only("git push $REMOTE main"))
    assert not wildcard_matches("git push origin main", only("git push $R main"))


def test_deny_rules_see_through_expanded_words():
    assert prefix_matches("git push --force", only("git push $F"), deny=True)
    assert prefix_matches("rm -rf", only("rm $ARGS"), deny=True)
    assert exact_matches("git push --force", only("git push $F"), deny=True)
    assert exact_matches("git push --force", only("git $X"), deny=True)
    assert not exact_matches("git push --force", only("git push $F origin"), deny=True)
    assert wildcard_matches("git * --force*", only("git push origin $X"), deny=True)
    assert not prefix_matches("rm", only("ls $X"), deny=True)
    assert not exact_matches("git push --force", only("git pull $X"), deny=True)


# -- hygiene -----------------------------------------------------------------------------------------

def test_tree_sitter_is_imported_lazily():
    for path in Path(__file__).parents[3].joinpath("src/ketch/security/shell").glob("*.py"):
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = [a.name for n in top for a in n.names] + [n.module or "" for n in top if isinstance(n, ast.ImportFrom)]
        assert not any(name.startswith("tree_sitter") for name in names), path
