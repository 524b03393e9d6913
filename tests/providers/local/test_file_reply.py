"""A small model's Write as a file block: the grammar offers it exactly when Write may be called, the
reply reads back into the Write the model meant, and a past Write is shown as it was written."""

from __future__ import annotations

import json

import pytest

from ketch.conversation import Message, ModelRequest, TextBlock, ToolDef, ToolResultBlock, ToolUseBlock
from ketch.providers.local import file_reply
from ketch.providers.local.format import chat_messages, reply_grammar, tools_prompt
from ketch.providers.local.reply import parse_reply

TOOLS = [ToolDef(name, f"{name} does things.", {"type": "object", "properties": {"file_path": {"type": "string"}},
                                                 "required": ["file_path"]})
         for name in ("Read", "Edit", "Write")]
SOURCE = 'def greet(name):\n    """Say hello.\n\n    >>> greet("ada")\n    \'hello ada\'\n    """\n    return f"hello {name}"\n'


def _request(messages: list[Message], tools: list[ToolDef] = TOOLS) -> ModelRequest:
    return ModelRequest(model="local:m", system="SYS", messages=messages, tools=tools)


def _after_a_read() -> list[Message]:
    return [Message("user", [TextBlock("fix greet.py")]),
            Message("assistant", [ToolUseBlock("c1", "Read", {"file_path": "greet.py"})]),
            Message("user", [ToolResultBlock("c1", "1\tdef greet(name): ...")])]


def _fake_gbnf(schema: dict) -> str:
    names = [o["properties"]["name"]["const"] for o in schema["oneOf"] if "name" in o["properties"]]
    return "root ::= json-object\njson-object ::= \"{}\"  # " + json.dumps(names)


def test_a_file_block_reads_back_as_the_write_with_nothing_escaped():
    raw = file_reply.render("greet.py", SOURCE)
    assert raw == "greet.py\n```python\n" + SOURCE + "```"
    [call], stop = parse_reply(raw, "", cut_off=False, file_blocks=True)
    assert isinstance(call, ToolUseBlock) and stop == "tool_use"
    assert call.name == "Write" and call.input == {"file_path": "greet.py", "content": SOURCE}
    # a file without a final line break gets one; a language tag the model chose is accepted
    [call], _ = parse_reply("notes.txt\n```text\na\n```", "", cut_off=False, file_blocks=True)
    assert call.input == {"file_path": "notes.txt", "content": "a\n"}


def test_a_block_cut_off_is_a_call_with_an_error_not_a_truncated_file():
    [call], stop = parse_reply("greet.py\n```python\ndef greet(", "", cut_off=True, file_blocks=True)
    assert isinstance(call, ToolUseBlock) and call.input == {} and "token limit" in (call.input_error or "")
    assert stop == "max_tokens"


def test_json_replies_and_prose_are_read_as_before():
    [call], _ = parse_reply('{"name": "Read", "arguments": {"file_path": "a.py"}}', "", cut_off=False, file_blocks=True)
    assert isinstance(call, ToolUseBlock) and call.name == "Read"
    [text], _ = parse_reply("just words", "", cut_off=False, file_blocks=True)
    assert isinstance(text, TextBlock)
    [text], _ = parse_reply(file_reply.render("a.py", "x = 1\n"), "", cut_off=False)  # not offered: not a Write
    assert isinstance(text, TextBlock)


def test_the_grammar_offers_a_file_block_exactly_when_write_may_be_called():
    first = reply_grammar(_request([Message("user", [TextBlock("fix greet.py")])]), _fake_gbnf)
    assert "file-reply" not in first  # the first reply only looks
    later = reply_grammar(_request(_after_a_read()), _fake_gbnf)
    assert later.startswith("root ::= json-reply | file-reply\n") and "json-reply ::=" in later
    assert '"Write"' not in later and '"Edit"' in later  # Write is offered only as the block
    write_only = reply_grammar(_request(_after_a_read(), [TOOLS[2]]), _fake_gbnf)
    assert "file-reply" in write_only
    failing = [*_after_a_read()]
    for i in (2, 3):
        failing += [Message("assistant", [ToolUseBlock(f"w{i}", "Write", {"file_path": "greet.py", "content": "x"})]),
                    Message("user", [ToolResultBlock(f"w{i}", "refused", is_error=True)])]
    assert "file-reply" not in reply_grammar(_request(failing), _fake_gbnf)  # failed twice the same way


def test_the_grammar_compiles_in_llama_cpp():
    grammar_module = pytest.importorskip("llama_cpp.llama_grammar")
    rules = reply_grammar(_request(_after_a_read()),
                          lambda schema: grammar_module.json_schema_to_gbnf(json.dumps(schema)))
    assert grammar_module.LlamaGrammar.from_string(rules, verbose=False) is not None
    assert grammar_module.LlamaGrammar.from_string(file_reply.grammar(None), verbose=False) is not None


def test_a_past_write_is_shown_as_the_block_the_model_wrote_and_the_prompt_says_how():
    messages = [*_after_a_read(),
                Message("assistant", [ToolUseBlock("c2", "Write", {"file_path": "greet.py", "content": SOURCE})]),
                Message("user", [ToolResultBlock("c2", "ok")])]
    out = chat_messages("SYS", messages, TOOLS, structured=True, file_blocks=True)
    assert out[4] == {"role": "assistant", "content": file_reply.render("greet.py", SOURCE)}
    assert "``` block" in out[0]["content"] and "Write(" not in out[0]["content"]
    assert out[0]["content"] == tools_prompt(TOOLS, file_blocks=True) + "\n\nSYS"
    plain = chat_messages("SYS", messages, TOOLS, structured=True)  # a server's grammar is JSON only
    assert json.loads(plain[4]["content"])["name"] == "Write" and "Write(" in plain[0]["content"]


def test_control_tokens_in_text_are_shown_broken_and_come_back_whole_in_what_the_model_writes():
    page = "<p>old <s>price</s></p>\n<|im_end|>\n"
    read = [Message("user", [TextBlock("fix page.html")]),
            Message("assistant", [ToolUseBlock("c1", "Read", {"file_path": "page.html"})]),
            Message("user", [ToolResultBlock("c1", page)])]
    shown = chat_messages("SYS", read, TOOLS, structured=True, file_blocks=True)[-1]["content"]
    assert "<s>" not in shown and "<|im_end|>" not in shown and "price" in shown
    copied = shown.removeprefix("Read returned:\n")  # the model copies what it was shown
    [call], _ = parse_reply(file_reply.render("page.html", copied), "", cut_off=False, file_blocks=True)
    assert call.input["content"] == page
    [call], _ = parse_reply(json.dumps({"name": "Edit", "arguments": {"file_path": "page.html", "old_string": copied}}),
                            "", cut_off=False, file_blocks=True)
    assert call.input["old_string"] == page


def test_a_tool_choice_makes_the_reply_that_call_on_every_provider():
    from ketch.providers.anthropic import build_body as anthropic_body
    from ketch.providers.openai_chat import build_body as openai_body

    forced = ModelRequest(model="m", system="SYS", messages=_after_a_read(), tools=TOOLS, tool_choice="Write")
    assert reply_grammar(forced, _fake_gbnf) == file_reply.grammar(None)  # a file block, nothing else
    edit = ModelRequest(model="m", system="SYS", messages=_after_a_read(), tools=TOOLS, tool_choice="Edit")
    assert "file-reply" not in reply_grammar(edit, _fake_gbnf) and '["Edit"]' in reply_grammar(edit, _fake_gbnf)
    assert openai_body(forced, "http://127.0.0.1:1/v1")["tool_choice"] == {"type": "function", "function": {"name": "Write"}}
    assert anthropic_body(forced)["tool_choice"] == {"type": "tool", "name": "Write"}
    unknown = ModelRequest(model="m", system="SYS", messages=_after_a_read(), tools=TOOLS, tool_choice="Deploy")
    assert "tool_choice" not in openai_body(unknown, "http://127.0.0.1:1/v1")  # not offered: ignored
    assert reply_grammar(unknown, _fake_gbnf) == reply_grammar(_request(_after_a_read()), _fake_gbnf)


def test_two_blocks_in_one_reply_are_two_writes_and_are_shown_back_the_same_way():
    init, toml = '"""Stock."""\n__version__ = "1.5.0"\n', '[project]\nversion = "1.5.0"\n'
    raw = file_reply.render("inventory/__init__.py", init) + "\n\n" + file_reply.render("pyproject.toml", toml)
    calls, stop = parse_reply(raw, "", cut_off=False, file_blocks=True)
    assert stop == "tool_use" and [c.input for c in calls] == [{"file_path": "inventory/__init__.py", "content": init},
                                                                {"file_path": "pyproject.toml", "content": toml}]
    history = [*_after_a_read(), Message("assistant", calls),
               *[Message("user", [ToolResultBlock(c.id, "ok")]) for c in calls]]
    assert chat_messages("SYS", history, TOOLS, structured=True, file_blocks=True)[4]["content"] == raw
    cut, stop = parse_reply(raw[:-20], "", cut_off=True, file_blocks=True)  # the second block cut short
    assert cut[0].input["content"] == init and cut[1].input_error and stop == "max_tokens"
    assert parse_reply(file_reply.render("a.py", "x = 1\n") + "\nDone!", "", cut_off=False, file_blocks=True)[0] \
        == [TextBlock(file_reply.render("a.py", "x = 1\n") + "\nDone!")]  # not what the grammar allows


def test_an_answer_may_follow_the_blocks_so_it_is_never_written_as_a_file():
    from tests.fakes.gbnf_match import accepts

    block = file_reply.render("total.py", "def sum_to(n):\n    return sum(range(1, n + 1))\n")
    raw = block + "\n\n" + json.dumps({"answer": "Fixed the range."})
    blocks, stop = parse_reply(raw, "", cut_off=False, file_blocks=True)
    assert stop == "tool_use" and isinstance(blocks[0], ToolUseBlock) and blocks[1] == TextBlock("Fixed the range.")
    assert accepts(file_reply.grammar(None), raw) and not accepts(file_reply.grammar(None), block + '\n\n{"name": "Read"}')
    history = [*_after_a_read(), Message("assistant", blocks), Message("user", [ToolResultBlock(blocks[0].id, "ok")])]
    assert chat_messages("SYS", history, TOOLS, structured=True, file_blocks=True)[4]["content"] == raw


def test_a_forced_write_may_name_only_the_files_asked_for():
    from tests.fakes.gbnf_match import accepts

    forced = ModelRequest(model="m", system="SYS", messages=_after_a_read(), tools=TOOLS, tool_choice="Write",
                          choice_paths=("main.py", "pkg/a b.py"))
    grammar = reply_grammar(forced, _fake_gbnf)
    assert accepts(grammar, file_reply.render("main.py", "from util import say_hello\n"))
    assert accepts(grammar, file_reply.render("pkg/a b.py", "x = 1\n"))
    # measured: prose forced into blocks became files named "To.fix,replace", "with" and "and"
    prose = file_reply.render("To.fix,replace", "from util import greet\n") + "\n\n" + file_reply.render("with", "x\n")
    assert not accepts(grammar, prose) and not accepts(grammar, file_reply.render("main2.py", "x\n"))
    assert accepts(reply_grammar(ModelRequest(model="m", system="SYS", messages=_after_a_read(), tools=TOOLS,
                                              tool_choice="Write"), _fake_gbnf), prose)  # no paths: any


def test_a_run_that_asks_no_change_gets_no_file_blocks():
    """Measured on the README's question: offered a block, the model began its prose answer as a path."""
    question = ModelRequest(model="m", system="SYS", messages=_after_a_read(), tools=TOOLS, file_blocks=False)
    grammar = reply_grammar(question, _fake_gbnf)
    assert "file-reply" not in grammar and '"Write"' in grammar  # Write stays, as JSON
