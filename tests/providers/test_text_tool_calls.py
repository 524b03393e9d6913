"""Tool calls left in text: the shapes real chat templates produce, what must stay text, and streaming.

The outputs below are what models write with their own templates (most are the cases llama.cpp's
chat parser tests in tests/test-chat.cpp, for Qwen 2.5 / Hermes 2 Pro, Llama 3.1 / 3.2, Mistral
Nemo, Functionary, Granite and its generic format), written with ketch's tool names.
"""

from __future__ import annotations

import pytest

from ketch.providers.text_tool_calls import TextCall, TextCallFilter, call_from_object, extract_calls

OFFERED = ("Read", "Bash", "Edit", "Grep")
READ = TextCall("Read", {"file_path": "src/app.py"})
BASH = TextCall("Bash", {"command": "pytest -q"})

# (model output, the calls in it, the text left to show)
CALLS = [
    pytest.param('<tool_call>\n{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tool_call>',
                 [READ], "", id="qwen2.5"),
    pytest.param("I'll look at the file first.\n<tool_call>\n"
                 '{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tool_call>',
                 [READ], "I'll look at the file first.", id="qwen-after-prose"),
    pytest.param("Hello, world!\nWhat's up?<tool_call>\n"
                 '{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tool_call>',
                 [READ], "Hello, world!\nWhat's up?", id="hermes-glued-to-text"),
    pytest.param('<tool_call>\n{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tool_call>\n'
                 '<tool_call>\n{"name": "Bash", "arguments": {"command": "pytest -q"}}\n</tool_call>',
                 [READ, BASH], "", id="qwen-two-calls"),
    pytest.param('<tool_call>\n{"arguments": {"file_path": "src/app.py"}, "name": "Read"}\n</tool_call>',
                 [READ], "", id="hermes-arguments-first"),
    pytest.param('<tool_call>{"name": "Read", "arguments": {"file_path": "src/app.py"}}', [READ], "",
                 id="qwen-unclosed-at-the-end"),
    pytest.param('<tools>\n  {"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tools>', [READ], "",
                 id="small-qwen-tools-tag"),
    pytest.param('<tool>\n  {"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tool>', [READ], "",
                 id="tool-tag"),
    pytest.param('<JSON>\n  {"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</JSON>', [READ], "",
                 id="json-tag-upper-case"),
    pytest.param('<function_call>{"name": "Read", "arguments": {"file_path": "src/app.py"}}</function_call>',
                 [READ], "", id="function-call-tag"),
    pytest.param('```json\n{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n```', [READ], "",
                 id="fenced-json"),
    pytest.param('```\n  {"name": "Read", "arguments": {"file_path": "src/app.py"}}\n```', [READ], "",
                 id="fenced-no-language"),
    pytest.param('```xml\n  {"name": "Read", "arguments": {"file_path": "src/app.py"}}\n```', [READ], "",
                 id="fenced-xml"),
    pytest.param('Let me run the tests.\n\n```json\n{"name": "Bash", "arguments": {"command": "pytest -q"}}\n```\n',
                 [BASH], "Let me run the tests.", id="fenced-after-prose"),
    pytest.param('```json\n[{"name": "Read", "arguments": {"file_path": "src/app.py"}},\n'
                 ' {"name": "Bash", "arguments": {"command": "pytest -q"}}]\n```', [READ, BASH], "",
                 id="fenced-list"),
    pytest.param('{"name": "Read", "arguments": {"file_path": "src/app.py"}}', [READ], "", id="bare"),
    pytest.param('{\n  "name": "Read", "arguments": {"file_path": "src/app.py"}}', [READ], "", id="bare-multiline"),
    pytest.param('{"name": "Read", "parameters": {"file_path": "src/app.py"}}', [READ], "", id="llama3.2"),
    pytest.param('<|python_tag|>{"name": "Read", "parameters": {"file_path": "src/app.py"}}<|eom_id|>', [READ], "",
                 id="llama3.1-python-tag"),
    pytest.param('[TOOL_CALLS][{"name": "Read", "arguments": {"file_path": "src/app.py"}, "id": "123456789"}]',
                 [READ], "", id="mistral-nemo"),
    pytest.param('[TOOL_CALLS] [{"name": "Read", "arguments": {"file_path": "src/app.py"}}]', [READ], "",
                 id="mistral-v3-space"),
    pytest.param('[TOOL_CALLS]Read[ARGS]{"file_path": "src/app.py"}', [READ], "", id="mistral-v11"),
    pytest.param('<function=Read>{"file_path": "src/app.py"}</function>', [READ], "", id="llama3.1-custom"),
    pytest.param('<function=Read>{"file_path": "src/app.py"}</function>\n'
                 '<function=Bash>{"command": "pytest -q"}</function>', [READ, BASH], "", id="functionary-two"),
    pytest.param('<function name="Read">\n{"file_path": "src/app.py"}\n</function>', [READ], "",
                 id="function-name-attribute"),
    pytest.param('<|tool_call|>[{"name": "Read", "arguments": {"file_path": "src/app.py"}}]', [READ], "",
                 id="granite"),
    pytest.param('{\n  "tool_calls": [\n    {\n      "name": "Read",\n      "arguments": {\n        "file_path": '
                 '"src/app.py"\n      },\n      "id": "123456789"\n    }\n  ]\n}', [READ], "", id="llama.cpp-generic"),
    pytest.param('{"type": "function", "function": {"name": "Read", "arguments": "{\\"file_path\\": \\"src/app.py\\"}"}}',
                 [READ], "", id="openai-shape-arguments-as-a-string"),
    pytest.param('<tool_call>\n{"name": "Bash", "arguments": {"command": "printf \'a\nb\'"}}\n</tool_call>',
                 [TextCall("Bash", {"command": "printf 'a\nb'"})], "", id="raw-newline-inside-a-string"),
    pytest.param('<tool_call>\n{"name": "Edit", "arguments": {"file_path": "a.py", "old_string": "# x\\nprint(1)", '
                 '"new_string": "print(2)"}}\n</tool_call>',
                 [TextCall("Edit", {"file_path": "a.py", "old_string": "# x\nprint(1)", "new_string": "print(2)"})],
                 "", id="escaped-newlines"),
    pytest.param('Reading it now.\n<tool_call>\n{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n'
                 '</tool_call>\nThen I will fix it.', [READ], "Reading it now.\nThen I will fix it.",
                 id="text-on-both-sides"),
]


@pytest.mark.parametrize("text, calls, rest", CALLS)
def test_calls_written_as_text_are_found(text: str, calls: list[TextCall], rest: str) -> None:
    assert extract_calls(text, OFFERED) == (calls, rest)


# Text that must come back exactly as it was: never invent a call.
NOT_CALLS = [
    pytest.param('{"name": "Deploy", "arguments": {"env": "prod"}}', id="tool-not-offered"),
    pytest.param('<tool_call>\n{"name": "rm_rf", "arguments": {}}\n</tool_call>', id="tagged-tool-not-offered"),
    pytest.param('<tool_call>\n{"name": "Read", "arguments": {"file_path": "src/app.py"}\n</tool_call>',
                 id="arguments-not-valid-json"),
    pytest.param('{"name": "Read", "arguments": "src/app.py"}', id="arguments-a-string-that-is-not-json"),
    pytest.param('{"name": "Read", "arguments": ["src/app.py"]}', id="arguments-a-list"),
    pytest.param('{"name": "Read"}', id="arguments-missing"),
    pytest.param('{"name": "Alice", "age": 30}', id="json-answer-with-a-name-field"),
    pytest.param('Here is the config:\n{"name": "my-app", "version": "1.2.0"}', id="package-json-shown"),
    pytest.param('[TOOL_CALLS][{"name": "Read", "arguments": {"file_path": "a"}}, {"name": "Nope", "arguments": {}}]',
                 id="list-with-one-bad-entry"),
    pytest.param('<|python_tag|>brave_search.call(query="ketch")<|eom_id|>', id="llama-builtin-tool-syntax"),
    pytest.param('```python\ncall = {"name": "Read", "arguments": {"file_path": "a"}}\n```', id="python-fence"),
    pytest.param('```json\n{"name": "Read", "arguments": {"file_path": "a"}}\nand more text\n```',
                 id="fence-holding-more-than-a-call"),
    pytest.param('Use `{"name": "Read", "arguments": {"file_path": "a"}}` to read a file.', id="mid-line-example"),
    pytest.param("The tests pass now: 3 passed in 0.2s.", id="plain-answer"),
    pytest.param("if a < b and c[TOOL] > 0: print('<tool')", id="marker-lookalikes"),
]


@pytest.mark.parametrize("text", NOT_CALLS)
def test_text_that_is_not_a_call_of_an_offered_tool_is_left_alone(text: str) -> None:
    assert extract_calls(text, OFFERED) == ([], text)


def test_a_bad_call_stays_text_beside_a_good_one() -> None:
    text = ('<tool_call>\n{"name": "Nope", "arguments": {}}\n</tool_call>\n'
            '<tool_call>\n{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tool_call>')
    calls, rest = extract_calls(text, OFFERED)
    assert calls == [READ] and rest == '<tool_call>\n{"name": "Nope", "arguments": {}}\n</tool_call>'


def test_nothing_is_a_call_when_no_tool_is_offered() -> None:
    text = '<tool_call>\n{"name": "Read", "arguments": {"file_path": "src/app.py"}}\n</tool_call>'
    assert extract_calls(text, ()) == ([], text)


@pytest.mark.parametrize("value, expected", [
    ({"name": "Read", "arguments": {"a": 1}}, ("Read", {"a": 1})),
    ({"name": "Read", "parameters": {"a": 1}}, ("Read", {"a": 1})),
    ({"type": "function", "function": {"name": "Read", "arguments": "{}"}}, ("Read", "{}")),
    ({"name": "Read"}, ("Read", None)),
    ({"answer": "hi"}, None),
    ({"name": 3, "arguments": {}}, None),
    (["Read"], None),
    (None, None),
])
def test_call_from_object(value: object, expected: object) -> None:
    assert call_from_object(value) == expected


# -- streaming --------------------------------------------------------------------------------


def stream(text: str, size: int, offered: tuple[str, ...] = OFFERED) -> tuple[list[str], str, list[TextCall]]:
    """(what was shown piece by piece, what finish showed, the calls)."""
    held = TextCallFilter()
    shown = [held.feed(text[i:i + size]) for i in range(0, len(text), size)]
    rest, calls = held.finish(offered)
    return shown, rest, calls


@pytest.mark.parametrize("text, calls, rest", CALLS)
@pytest.mark.parametrize("size", [1, 2, 3, 7, 1000])
def test_no_part_of_a_call_is_ever_shown(text: str, calls: list[TextCall], rest: str, size: int) -> None:
    shown, tail, found = stream(text, size)
    assert found == calls
    streamed = "".join(shown)
    # everything shown live is text before the first call; nothing is taken back
    assert text.startswith(streamed)
    for marker in ("tool_call", '"name"', "python_tag", "TOOL_CALLS", "<function", "```"):
        assert marker not in streamed
    assert (streamed + tail).strip() == rest


@pytest.mark.parametrize("text", NOT_CALLS)
@pytest.mark.parametrize("size", [1, 4, 1000])
def test_text_that_is_not_a_call_is_shown_whole(text: str, size: int) -> None:
    shown, tail, found = stream(text, size)
    assert found == [] and "".join(shown) + tail == text


def test_prose_is_shown_as_it_comes_and_the_call_is_held() -> None:
    held = TextCallFilter()
    assert held.feed("I'll read the file.\n") == "I'll read the file.\n"
    assert held.feed("<tool") == ""
    assert held.feed('_call>\n{"name": "Read", ') == ""
    assert held.feed('"arguments": {"file_path": "src/app.py"}}\n</tool_call>') == ""
    assert held.finish(OFFERED) == ("", [READ])


def test_a_lookalike_is_released_as_soon_as_it_cannot_be_a_call() -> None:
    held = TextCallFilter()
    assert held.feed("a <") == "a "
    assert held.feed("b and [") == "<b and "
    assert held.feed("x] done") == "[x] done"
    assert held.feed("\n") == "\n"
    assert held.feed("  ``") == ""  # a fence may be opening
    assert held.feed("`python\nprint(1)\n") == "  ```python\nprint(1)\n"
    assert held.finish(OFFERED) == ("", [])


def test_a_line_starting_with_a_brace_but_no_key_is_released() -> None:
    held = TextCallFilter()
    assert held.feed("{") == ""
    assert held.feed("}\nok") == "{}\nok"


def test_held_text_is_shown_as_written_when_the_reply_also_had_real_calls() -> None:
    text = '{"name": "Read", "arguments": {"file_path": "src/app.py"}}'
    held = TextCallFilter()
    assert held.feed(text) == ""
    assert held.finish(()) == (text, [])


def test_code_in_a_fence_that_is_not_a_call_streams_without_waiting() -> None:
    text = 'Like this:\n```js\n{"name": "Read", "arguments": {"file_path": "a"}}\n```\nDone.'
    shown, tail, found = stream(text, 1)
    assert "".join(shown) == text and tail == "" and found == []
