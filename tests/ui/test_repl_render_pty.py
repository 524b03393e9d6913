"""What the REPL draws: markdown prose, long answers, a resized window, NO_COLOR (real pty, pyte)."""

from __future__ import annotations

import re

COLOUR = re.compile(rb"\x1b\[[0-9;]*(?:3[0-9]|4[0-9]|9[0-7]|38;[25]|48;[25])[0-9;]*m")


def test_markdown_prose_is_styled_once_each_line_is_whole(server, term):
    answer = ("Here is **the plan** for `app.py`:\n"
              "- first *step*\n"
              "2. second step\n"
              "| file | lines |\n|---|--:|\n| app.py | 12 |\n\n"
              "> a quoted remark\n"
              "done")
    t = term(server([{"text": answer}]))
    t.wait_prompt()
    t.send("plan?\r")
    t.wait("done")
    t.wait_prompt()
    screen = t.text
    assert "Here is the plan for app.py:" in screen and "**" not in screen and "`" not in screen
    assert "• first step" in screen and "2. second step" in screen
    assert "▌ a quoted remark" in screen
    table = [line for line in screen.splitlines() if "app.py" in line and "12" in line]
    assert table and "|" not in table[0]  # drawn as a table, not as the raw pipes
    assert screen.count("second step") == 1  # a restyled line replaces its raw self, never doubles


def test_a_2000_line_answer_streams_whole_and_is_written_once(server, term):
    lines = [f"line {i:04d} of the long streamed answer, plain prose" for i in range(1, 2001)]
    answer = "\n".join(lines)
    t = term(server([{"text": answer}]))
    t.wait_prompt()
    t.raw = b""
    t.send("long\r")
    t.wait("line 2000 of the long streamed answer", timeout=60)
    t.wait_prompt(timeout=30)
    printed = t.printed
    assert all(line in printed for line in lines[::97])
    # No re-render of what was already printed: the bytes sent to the terminal stay within a
    # small constant of the answer itself (a full redraw per line would be ~1,000x more).
    assert len(t.raw) < 1.3 * len(answer.encode()) + 4000, len(t.raw)


def test_a_resized_window_wraps_and_restyles_at_the_new_width(server, term):
    words = " ".join(f"w{i:02d}" for i in range(30))  # 119 columns: three rows at 50
    # COLUMNS=80 and LINES=24 stay exported, as some shells do: ketch must still follow the window.
    t = term(server([{"text": f"**{words}**\nend of answer"}]))
    t.wait_prompt()
    t.resize(20, 50)
    t.send("wrap\r")
    t.wait("end of answer")
    t.wait_prompt()
    screen = t.text
    assert "**" not in screen
    assert max(len(line) for line in screen.splitlines()) <= 50
    flat = screen.replace("\n", "")  # the terminal wrapped the line: read its rows as one
    assert all(flat.count(f"w{i:02d}") == 1 for i in range(30)), screen  # no raw copy left behind


def test_no_color_means_no_colour_escapes_but_colour_without_it(server, term):
    reply = {"text": "Some **bold** text.\n```python\nx = 1\n```\nbye"}
    plain = term(server([reply]), NO_COLOR="1", TERM="xterm-256color")
    plain.wait_prompt()
    plain.send("hi\r")
    plain.wait("bye")
    plain.wait_prompt()
    assert not COLOUR.search(plain.raw), COLOUR.search(plain.raw)

    coloured = term(server([reply]), TERM="xterm-256color", drop=("NO_COLOR",))
    coloured.wait_prompt()
    coloured.send("hi\r")
    coloured.wait("bye")
    coloured.wait_prompt()
    assert COLOUR.search(coloured.raw)


def test_a_silent_turn_shows_its_elapsed_time_and_the_ticker_leaves_no_trace(server, term):
    s = server([{"text": "Thinking done: the answer.", "stall_after": 1}])
    t = term(s)
    t.wait_prompt()
    t.send("slow one\r")
    assert s.stalled.wait(10)
    t.wait("s · Esc interrupts", timeout=10)  # about once a second while nothing else moves
    s.release.set()
    t.wait("Thinking done: the answer.")
    t.wait_prompt()
    assert "Esc interrupts" not in t.text.replace("/help for commands · Esc interrupts", "")


def test_streamed_prose_wraps_at_word_boundaries(server, term):
    words = [f"{'abcdefghijklmnop'[: 3 + i % 9]}{i}" for i in range(60)]  # lengths vary, so edges fall mid-word
    plain = " ".join(words)
    styled = "Then **" + " ".join(words[:25]) + "** and " + " ".join(words[25:45])
    t = term(server([{"text": f"{plain}\n{styled}\nend of answer"}]))
    t.wait_prompt()
    t.send("wrap\r")
    t.wait("end of answer")
    t.wait_prompt()
    rows = t.text.splitlines()
    first = next(i for i, row in enumerate(rows) if row.startswith(words[0]))
    end = next(i for i, row in enumerate(rows) if row.startswith("end of answer"))
    tokens = " ".join(rows[first:end]).split()
    assert tokens == words + ["Then", *words[:25], "and", *words[25:45]], "\n".join(rows[first:end])
    assert "**" not in t.text and max(len(row) for row in rows) <= 80
