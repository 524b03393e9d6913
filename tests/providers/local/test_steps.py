"""How a small local model is carried through a multi-step task: the reply format stated once,
nothing after tool results but a note on an exact repeat, a first reply that may only look,
the answer due after the same read twice, and an answer stuck in a loop cut after one round.

The provider tests drive `LocalProvider._generate` with a scripted stand-in for llama_cpp.Llama
(no model file), so the grammar it asks for and the way it stops are checked exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from ketch.conversation import Message, ModelRequest, TextBlock, ToolDef, ToolResultBlock, ToolUseBlock
from ketch.providers.base import Completed, TextChunk
from ketch.providers.local import provider as local
from ketch.providers.local.format import (
    FIRST_REPLY_TOOLS,
    chat_messages,
    prompt_text,
    repeated_look,
    reply_schema,
    tools_prompt,
)
from ketch.providers.local.reply import LOOP_TAIL, loop_cut

TOOLS = [ToolDef(name, f"{name} does things.", {"type": "object", "properties": {"x": {"type": "string"}},
                                                 "required": ["x"]})
         for name in ("Bash", "Glob", "Grep", "Read", "Edit", "Write")]


def test_the_reply_format_is_in_the_system_prompt_and_nothing_follows_a_tool_result():
    msgs = [Message("user", [TextBlock("fix calc.py")]),
            Message("assistant", [ToolUseBlock("c1", "Read", {"x": "calc.py"})]),
            Message("user", [ToolResultBlock("c1", "1\treturn a - b")])]
    out = chat_messages("SYS", msgs, TOOLS, structured=True)
    assert out[0]["content"] == tools_prompt(TOOLS) + "\n\nSYS"  # what every project shares comes first
    assert prompt_text("local_reply.md") in out[0]["content"]
    assert "describing a change does not make it" in out[0]["content"]
    assert out[-1] == {"role": "user", "content": "Read returned:\n1\treturn a - b"}


def _calls(*calls: tuple[str, dict]) -> list[Message]:
    msgs = [Message("user", [TextBlock("task")])]
    for i, (name, args) in enumerate(calls):
        msgs += [Message("assistant", [ToolUseBlock(f"c{i}", name, args)]),
                 Message("user", [ToolResultBlock(f"c{i}", "result")])]
    return msgs


def test_a_repeated_read_gets_a_note_and_earlier_turns_never_change():
    read = ("Read", {"x": "notes.txt"})
    msgs = _calls(read, read, read)
    out = chat_messages("SYS", msgs, TOOLS, structured=True)
    results = [m["content"] for m in out if m["role"] == "user"][1:]
    note = prompt_text("local_repeat.md")
    assert note not in results[0] and results[1].endswith(note) and results[2].endswith(note)
    shorter = chat_messages("SYS", msgs[:3], TOOLS, structured=True)
    assert out[:len(shorter)] == shorter  # the cached prefix of an earlier turn stays valid
    for other in (_calls(read, ("Read", {"x": "other.txt"})), _calls(read, ("Edit", {"x": "notes.txt"}), read)):
        assert note not in chat_messages("SYS", other, TOOLS, structured=True)[-1]["content"]


def test_reply_schema_for_a_first_reply_offers_only_the_looking_tools():
    schema = reply_schema(TOOLS, answer=False, only=FIRST_REPLY_TOOLS)
    names = [o["properties"]["name"]["const"] for o in schema["oneOf"]]
    assert names == ["Bash", "Glob", "Grep", "Read"]  # no answer, no Edit, no Write
    full = reply_schema(TOOLS)
    assert "answer" in full["oneOf"][0]["properties"] and len(full["oneOf"]) == 7
    # none of the looking tools offered (the user denied them): the full choice stays
    assert reply_schema(TOOLS[4:], answer=False, only=FIRST_REPLY_TOOLS) == reply_schema(TOOLS[4:])
    assert reply_schema(TOOLS, only=()) == {"oneOf": [full["oneOf"][0]]}  # the answer alone


def test_a_read_only_call_repeated_with_nothing_changed_between_is_spotted():
    a, b = ("Read", {"x": "a.py"}), ("Read", {"x": "b.py"})
    assert repeated_look(_calls(a, a))
    assert repeated_look(_calls(a, ("Grep", {"x": "def"}), a))  # only reads between
    assert not repeated_look(_calls(a, ("Edit", {"x": "a.py"}), a))  # the file may have changed
    assert not repeated_look(_calls(a, b))
    assert repeated_look(_calls(a, b, a, b)[:-2])
    assert not repeated_look(_calls(("Bash", {"x": "pytest"}), ("Bash", {"x": "pytest"})))
    assert not repeated_look(_calls())


def test_loop_cut_keeps_one_round_of_a_repeating_answer():
    unit = "The function has been renamed and every call has been updated to match the new name. "
    text = "Done. " + unit * 4
    cut = loop_cut(text)
    assert cut is not None and text[:cut] == "Done. " + unit.rstrip()
    assert loop_cut("Done. " + unit * 2) is None
    prose = " ".join(f"line {i} says something different about the code." for i in range(40))
    assert loop_cut(prose) is None
    assert loop_cut("x" * (LOOP_TAIL * 3 - 1)) is None  # too short to judge


class _FakeLlama:
    """Just enough of llama_cpp.Llama for `_generate`: tokenize, the KV-cache view, a scripted stream."""

    def __init__(self, pieces: list[str]) -> None:
        import numpy

        self.pieces = pieces
        self.n_tokens = 0
        self.input_ids = numpy.zeros(0, dtype=numpy.intc)
        self.calls: list[dict[str, Any]] = []
        self.closed = False

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return list(text)

    def create_completion(self, **kwargs: Any):
        self.calls.append(kwargs)
        try:
            for piece in self.pieces:
                yield {"choices": [{"text": piece, "finish_reason": None}]}
            yield {"choices": [{"text": "", "finish_reason": "length"}]}
        finally:
            self.closed = True


class _Rendered:
    prompt = "<prompt>"
    stop: ClassVar[list[str]] = []
    added_special = True


def _generate(pieces: list[str], messages: list[Message], monkeypatch) -> tuple[list, _FakeLlama, list]:
    from llama_cpp import llama_grammar

    schemas: list[dict] = []  # the JSON part of each reply's grammar
    monkeypatch.setattr(local, "schema_to_gbnf", lambda schema: schemas.append(schema) or 'root ::= "{}"')
    monkeypatch.setattr(llama_grammar.LlamaGrammar, "from_string", classmethod(lambda cls, text, verbose=True: text))
    fake = _FakeLlama(pieces)
    loaded = local._Loaded(fake, None, True, __import__("threading").Lock())
    request = ModelRequest(model="m", system="SYS", messages=messages, tools=TOOLS, max_tokens=4096)
    events = list(local.LocalProvider()._generate(loaded, _Rendered(), request, "m", 8192, True))
    return events, fake, schemas


def test_the_grammar_per_reply_first_look_then_free_and_the_answer_after_a_repeated_read(monkeypatch):
    pytest.importorskip("numpy")
    first = [Message("user", [TextBlock("fix calc.py")])]
    events, _, schemas = _generate(['{"name": "Read", "arguments": {"x": "calc.py"}}'], first, monkeypatch)
    assert schemas[0] == reply_schema(TOOLS, answer=False, only=FIRST_REPLY_TOOLS)
    done = events[-1]
    assert isinstance(done, Completed) and done.stop_reason == "tool_use"
    later = first + [Message("assistant", [ToolUseBlock("c1", "Read", {"x": "calc.py"})]),
                     Message("user", [ToolResultBlock("c1", "1\treturn a - b")])]
    _, fake, schemas = _generate(['{"answer": "ok"}'], later, monkeypatch)
    assert schemas[0] == reply_schema(TOOLS, only=("Bash", "Glob", "Grep", "Read", "Edit"))  # Write: a file block
    assert fake.calls[0]["grammar"].startswith("root ::= json-reply | file-reply")
    again = later + [Message("assistant", [ToolUseBlock("c2", "Read", {"x": "calc.py"})]),
                     Message("user", [ToolResultBlock("c2", "1\treturn a - b")])]
    events, _, schemas = _generate(['{"answer": "it subtracts"}'], again, monkeypatch)
    assert schemas[0] == reply_schema(TOOLS, only=())  # the same read twice: the answer is due
    assert events[-1].message.content == [TextBlock("it subtracts")]


def test_a_looping_answer_stops_early_and_keeps_one_round(monkeypatch):
    pytest.importorskip("numpy")
    unit = "The changes have been made to the file and the calls were updated to reflect it. "
    pieces = ['{"answer": "', "Renamed. "] + [w + " " for w in (unit * 20).split()]
    later = [Message("user", [TextBlock("rename greet")]),
             Message("assistant", [ToolUseBlock("c1", "Edit", {"x": "a"})]),
             Message("user", [ToolResultBlock("c1", "Edited a.py")])]
    events, fake, _ = _generate(pieces, later, monkeypatch)
    done = events[-1]
    assert isinstance(done, Completed) and done.stop_reason == "end_turn"
    assert done.message.content == [TextBlock("Renamed. " + unit.rstrip())]
    shown = "".join(e.text for e in events if isinstance(e, TextChunk))
    assert shown.count(unit.strip()) < 4  # generation stopped soon after the loop showed
    assert fake.closed  # the llama.cpp stream was closed, not left suspended


def test_raw_newlines_and_tabs_inside_strings_are_taken_as_written():
    """llama_cpp's JSON grammar lets them through; a strict parser refused the whole call."""
    from ketch.providers.local.reply import parse_reply

    raw = '{"name": "Write", "arguments": {"file_path": "a.py", "content": "def f():\n\treturn 1\n"}}'
    blocks, stop = parse_reply(raw, "", False)
    assert stop == "tool_use" and blocks[0].input_error is None
    assert blocks[0].input == {"file_path": "a.py", "content": "def f():\n\treturn 1\n"}


def test_the_same_failing_call_twice_takes_that_tool_off_the_next_reply():
    from ketch.providers.local.format import repeated_failure

    edit = ("Edit", {"file_path": "t.py", "old_string": "x", "new_string": "x"})

    def failing(*calls):
        msgs = _calls(*calls)
        for m in msgs:
            for b in m.content:
                if isinstance(b, ToolResultBlock):
                    b.is_error = True
        return msgs

    assert repeated_failure(failing(edit, edit)) == "Edit"
    assert repeated_failure(_calls(edit, edit)) is None  # it worked: nothing to stop
    assert repeated_failure(failing(edit, ("Edit", {"file_path": "t.py", "old_string": "y", "new_string": "z"}))) is None
    assert repeated_failure(failing(edit)) is None
    read = ("Read", {"file_path": "t.py"})
    assert repeated_failure(failing(edit, read, edit)) == "Edit"  # a look between changes nothing
    assert repeated_failure(failing(edit, read, edit, read, read)) == "Edit"  # and it stays off while it looks
    assert repeated_failure(failing(edit, ("Bash", {"command": "ls"}), edit)) is None


def test_the_fixed_prefix_is_what_every_first_message_shares():
    from ketch.providers.local.prefix_cache import fixed_prefix

    def render(text: str) -> list[int]:  # a template: system part, then the user's text, then a tail
        return [1, 2, 3, 4] + [ord(c) for c in text] + [9, 9]

    assert fixed_prefix(render("hello"), render) == [1, 2, 3, 4]
    assert fixed_prefix([1, 2, 7], render) == [1, 2]  # a prompt that left the template early


def test_a_repeated_read_with_the_same_text_points_back_instead_of_sending_it_again():
    from ketch.providers.local.format import chat_messages

    text = "\n".join(f"{i:>6}\tline {i}" for i in range(1, 60))
    read = {"file_path": "README.md"}
    messages = [Message("user", [TextBlock("summarise")]),
                Message("assistant", [ToolUseBlock("c1", "Read", read)]), Message("user", [ToolResultBlock("c1", text)]),
                Message("assistant", [ToolUseBlock("c2", "Read", read)]), Message("user", [ToolResultBlock("c2", text)])]
    rendered = chat_messages("SYS", messages, TOOLS, structured=True)
    assert rendered[3]["content"].startswith("Read returned:\n") and text in rendered[3]["content"]
    again = rendered[5]["content"]
    assert text not in again and "Read returned the same text as the first time (above)." in again
    assert "nothing has changed since" in again  # the note that the answer is due stays
    changed = messages[:4] + [Message("user", [ToolResultBlock("c2", text + "\n    60\tnew")])]
    assert text in chat_messages("SYS", changed, TOOLS, structured=True)[5]["content"]  # a changed file is shown
