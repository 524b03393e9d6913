"""Pieces of the REPL that need no terminal: streamed text, rules granted from a prompt, mentions."""

from __future__ import annotations

import json
from pathlib import Path

from ketch.agent.permissions.rules import Rule
from ketch.ui.mentions import attach_mentions, best_matches
from ketch.ui.project_rules import append_project_rule, may_offer_always, rule_for
from ketch.ui.textstream import TextStream, clean


class _Sink:
    """Records what the stream hands to the renderer, in order."""

    def __init__(self) -> None:
        self.out: list[tuple[str, object]] = []

    def prose(self, text):
        self.out.append(("raw", text))

    def prose_line_end(self, line):
        self.out.append(("raw", "\n"))
        self.out.append(("line", line))

    def code(self, code, language):
        self.out.append(("code:" + language, code))

    def heading(self, text):
        self.out.append(("heading", text))

    def table(self, lines):
        self.out.append(("table", lines))


def _stream():
    sink = _Sink()
    return TextStream(sink), sink.out


def test_prose_streams_at_once_and_code_waits_for_its_fence():
    s, out = _stream()
    s.feed("Hel")
    assert out == [("raw", "Hel")]  # no waiting for the line to end
    s.feed("lo\n```py")
    s.feed("thon\nx = 1\n")
    assert ("code:python", "x = 1") not in out
    s.feed("```\n# Title\nend")
    s.finish()
    assert ("code:python", "x = 1") in out and ("heading", "Title") in out
    assert "".join(t for k, t in out if k == "raw") == "Hello\nend\n"
    assert [t for k, t in out if k == "line"] == ["Hello", "end"]  # each whole line, for restyling


def test_tables_are_held_until_they_end_and_lists_stream():
    s, out = _stream()
    s.feed("- fir")
    assert out == [("raw", "- fir")]
    s.feed("st\n| a | b |\n|---|--")
    assert not any(k == "table" for k, _ in out)
    s.feed("-|\n| 1 | 2 |\n\nafter\n")
    tables = [t for k, t in out if k == "table"]
    assert tables == [["| a | b |", "|---|---|", "| 1 | 2 |"]]
    assert [t for k, t in out if k == "line"] == ["- first", "", "after"]


def test_markdown_lines_are_styled_and_plain_lines_are_left_alone():
    from ketch.ui.markdown_line import style_line, table

    assert style_line("just words, snake_case_names and 2 * 3 * 4") is None
    bold = style_line("a **bold** and `code` and [docs](https://x.test)")
    assert bold.plain == "a bold and code and docs (https://x.test)"
    assert any(span.style == "bold" for span in bold.spans)
    assert style_line("  - item *one*").plain == "  • item one"
    assert style_line("- [x] done").plain == "☑ done"
    assert style_line("12. twelfth").plain == "12. twelfth"
    assert style_line("> quoted").plain == "▌ quoted"
    assert set(style_line("---").plain) == {"─"}
    assert table(["| a |", "| b |"]) is None  # no separator row: not a table
    grid = table(["| name | n |", "|:--|--:|", "| x \\| y | 1 |", "| short |"])
    assert grid is not None and len(grid.columns) == 2 and grid.row_count == 2


def test_control_characters_are_made_visible():
    assert clean("a\x1b[31mb\x07") == "a\\x1b[31mb\\x07"


def test_always_is_never_offered_for_code_runners():
    for command in ("bash -c 'ls'", "python -c 'print(1)'", "find . -exec rm {} ;", "git -c core.pager=sh log"):
        assert not may_offer_always("Bash", {"command": command}), command
    assert may_offer_always("Bash", {"command": "npm test"})
    assert rule_for("Bash", {"command": " npm test "}) == Rule("Bash", "npm test:*")  # more in test_rule_offer.py


def test_project_rule_is_appended_keeping_other_settings(tmp_path: Path):
    path = tmp_path / ".ketch" / "settings.local.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"model": "x", "permissions": {"allow": ["Read"]}}))
    append_project_rule(tmp_path, Rule("Bash", "npm test"))
    append_project_rule(tmp_path, Rule("Bash", "npm test"))
    data = json.loads(path.read_text())
    assert data == {"model": "x", "permissions": {"allow": ["Read", "Bash(npm test)"]}}
    assert [p.name for p in path.parent.iterdir()] == ["settings.local.json"]  # no temp file left


def test_mentions_attach_files_and_fuzzy_match(tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("APP = 1\n")
    text, attached = attach_mentions("look at @src/app.py, please", tmp_path)
    assert attached == ["src/app.py"] and "APP = 1" in text
    assert best_matches("sap", ["docs/readme.md", "src/app.py"]) == ["src/app.py"]


def test_rewind_points_are_every_prompt_and_resume_follows_a_rewind(tmp_path):
    import json
    from types import SimpleNamespace as Rec

    from ketch.agent import events as ev
    from ketch.agent.sessions.load import load_session
    from ketch.agent.sessions.transcript import to_record
    from ketch.agent.undo.rewind_points import files_to_undo, rewind_points
    from ketch.conversation import Message, TextBlock, ToolResultBlock, ToolUseBlock

    messages = [Message("user", [TextBlock("first")]),
                Message("assistant", [ToolUseBlock("t1", "Edit", {"file_path": "a"})]),
                Message("user", [ToolResultBlock("t1", "ok")]),
                Message("assistant", [TextBlock("done 1")]),
                Message("user", [TextBlock("second")]),
                Message("assistant", [ToolUseBlock("t2", "Edit", {"file_path": "b"})]),
                Message("user", [ToolResultBlock("t2", "ok")])]
    messages += [Message("assistant", [TextBlock("done 2")]), Message("user", [TextBlock("third, just talk")]),
                 Message("assistant", [TextBlock("sure")])]
    # 2: a turn of a branch that a conversation-only rewind left behind (its files were kept)
    records = [Rec(seq=1, message_index=1, undone=False), Rec(seq=2, message_index=9, undone=False),
               Rec(seq=3, message_index=5, undone=False)]
    points = rewind_points(messages, records)
    assert [(p.number, p.message_index, p.prompt) for p in points] == [
        (1, 0, "first"), (2, 4, "second"), (3, 8, "third, just talk")]
    assert [[c.seq for c in p.checkpoints] for p in points] == [[1], [3], []]
    assert [c.seq for c in files_to_undo(points, points[1])] == [3] and files_to_undo(points, points[2]) == []
    path = tmp_path / "s.jsonl"
    records = [{"type": "user", "content": [{"type": "text", "text": "first"}]},
               {"type": "assistant", "content": [{"type": "text", "text": "old answer"}]},
               to_record(ev.Rewound(turn=1, messages=messages[:1]))]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    loaded = load_session(path)
    assert [m.role for m in loaded.messages] == ["user"] and loaded.messages[0].content[0].text == "first"


def _draw(text: str, width: int = 40) -> list[str]:
    """Stream `text` through the REPL's renderer into a terminal emulator; the screen's lines."""
    import io

    import pyte
    from rich.console import Console

    from ketch.agent import events as ev
    from ketch.ui.render import Renderer

    out = io.StringIO()
    renderer = Renderer(Console(file=out, force_terminal=True, width=width, height=24, color_system="256"),
                        Path("/tmp"), fancy=True)
    for i in range(0, len(text), 5):
        renderer.on_event(ev.TextDelta(text[i:i + 5]))
    renderer.end_text()
    screen = pyte.Screen(width, 24)
    pyte.Stream(screen).feed(out.getvalue().replace("\n", "\r\n"))  # what the tty's ONLCR does
    return [line.rstrip() for line in screen.display if line.strip()]


def test_restyled_lines_never_erase_the_line_above():
    lines = _draw("first plain line\n"
                  "- arrow `a` → `b` fits\n"  # narrow non-ASCII: exact row count
                  "**wide** 漢字漢字 and ✅ here\n"  # wide characters on one row: safe to redraw
                  "then **a long bold line that wraps over the forty column width** ok\n"
                  "last")
    assert lines == ["first plain line", "• arrow a → b fits", "wide 漢字漢字 and ✅ here",
                     "then a long bold line that wraps over", "the forty column width ok", "last"]


def test_streamed_prose_breaks_at_spaces_and_long_words_still_fold():
    lines = _draw("above\n"
                  "a plain line of prose that is much longer than forty columns wide, here\n"
                  "**styled** and then a plain tail that goes on past the edge of it\n"
                  "x https://example.com/a/very/long/path/that/cannot/fit/in/one/row end\n"
                  "last")
    assert lines == ["above",
                     "a plain line of prose that is much", "longer than forty columns wide, here",
                     "styled and then a plain tail that goes", "on past the edge of it",
                     "x", "https://example.com/a/very/long/path/tha", "t/cannot/fit/in/one/row end",
                     "last"]


def test_row_wrap_counts_the_rows_it_makes():
    from ketch.ui.wordwrap import RowWrap

    wrap = RowWrap(10)
    out = "".join(wrap.feed(part) for part in ("aaa bb", "b cccc", "cc d", "  ")) + wrap.end()
    assert out == "aaa bbb\ncccccc d" and wrap.rows == 2 and wrap.certain
    wrap = RowWrap(10)
    out = wrap.feed("ab " + "x" * 25) + wrap.end()
    assert out == "ab " + "x" * 25 and wrap.rows == 3 and wrap.certain  # folded by the terminal: 28 columns
    wrap = RowWrap(10)
    out = "".join(wrap.feed(part) for part in ("123 5678", "90")) + wrap.end()
    assert out == "123 5678\x1b[4D\x1b[K\n567890" and wrap.rows == 2  # the word in flight moves down
    wrap = RowWrap(10)
    assert wrap.feed("ab 漢字漢") == "ab" and wrap.end() == "\n漢字漢" and wrap.rows == 2  # held until whole
    wrap = RowWrap(10)
    wrap.feed("漢字漢字漢字漢字漢字漢字")
    assert not wrap.certain  # a wide word the terminal folds: its count is not ours to trust
    wrap = RowWrap(10)
    wrap.feed("a\tb")
    assert not wrap.certain


def test_a_wide_line_that_might_wrap_is_left_raw_rather_than_guessed():
    lines = _draw("above\n**漢字漢字漢字漢字漢字漢字漢字漢字漢字漢字**\n")
    assert lines[0] == "above" and "**" in "".join(lines)  # raw kept; the line above survives


def test_a_project_rule_can_be_removed_again(tmp_path: Path):
    from ketch.ui.project_rules import remove_project_rule

    path = tmp_path / ".ketch" / "settings.local.json"
    assert remove_project_rule(tmp_path, "Bash(npm test:*)") == [] and not path.exists()
    append_project_rule(tmp_path, Rule("Bash", "npm test:*"))
    append_project_rule(tmp_path, Rule("Read", "./docs/**"))
    append_project_rule(tmp_path, Rule("Bash", "npm test:*"), kind="deny")
    assert remove_project_rule(tmp_path, "Bash(npm test:*)") == ["allow", "deny"]
    assert json.loads(path.read_text())["permissions"] == {"allow": ["Read(./docs/**)"], "deny": []}
