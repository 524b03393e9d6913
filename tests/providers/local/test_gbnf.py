"""The reply grammar as GBNF, from ketch's own converter (a server's client need not have llama_cpp):
what it accepts and refuses, checked by translating it to a regular expression (tests/fakes/gbnf_match.py),
and that llama.cpp compiles it."""

from __future__ import annotations

import json

import pytest

from ketch.conversation import ToolDef
from ketch.localmodels.small_tools import small_tools
from ketch.providers.local import file_reply
from ketch.providers.local.format import reply_schema
from ketch.providers.local.gbnf import literal, schema_to_gbnf
from ketch.tools.registry import default_tools
from tests.fakes.gbnf_match import accepts

TOOLS = [t.definition() for t in small_tools(default_tools())]


def _call(name: str, **args: object) -> str:
    return json.dumps({"name": name, "arguments": args})


def test_the_reply_grammar_takes_every_offered_call_and_nothing_else():
    grammar = schema_to_gbnf(reply_schema(TOOLS))
    for good in (_call("Read", file_path="a.py"), _call("Read", file_path="a.py", offset=40),
                 _call("Edit", file_path="a.py", old_string='x = "1"\n', new_string="x = 2", replace_all=True),
                 _call("Grep", pattern="def f", output_mode="count"), _call("Bash", command="python3 -m pytest -q"),
                 json.dumps({"answer": "Done: a + b."}), '{"answer":"no spaces"}',
                 '{"name": "Write", "arguments": {"file_path": "a.py", "content": "raw\nbreak"}}'):
        assert accepts(grammar, good), good
    for bad in (_call("Delete", file_path="a.py"), _call("Read"), _call("Read", file_path="a.py", limit=5),
                _call("Grep", pattern="x", output_mode="lines"), '{"answer": 3}', "Sure! Here is the fix.",
                _call("Read", file_path="a.py") + " trailing"):
        assert not accepts(grammar, bad), bad


def test_objects_with_only_optional_keys_take_any_subset_in_order():
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "boolean"},
                                               "c": {"type": "string"}}, "additionalProperties": False}
    grammar = schema_to_gbnf(schema)
    for good in ("{}", '{"a": 1}', '{"b": true}', '{"a": 1, "c": "x"}', '{"a": -2, "b": false, "c": ""}'):
        assert accepts(grammar, good), good
    for bad in ('{"c": "x", "a": 1}', '{"a": "1"}', '{, "a": 1}', '{"d": 1}'):
        assert not accepts(grammar, bad), bad


def test_with_file_blocks_a_write_is_a_block_and_still_compiles_in_llama_cpp():
    json_part = reply_schema(TOOLS, only=tuple(t.name for t in TOOLS if t.name != "Write"))
    grammar = file_reply.grammar(schema_to_gbnf(json_part))
    assert accepts(grammar, file_reply.render("pkg/calc.py", 'def add(a, b):\n    """Sum."""\n    return a + b\n'))
    assert accepts(grammar, _call("Read", file_path="a.py"))
    assert not accepts(grammar, _call("Write", file_path="a.py", content="x"))  # only as a block
    assert not accepts(grammar, "a.py\n```python\nx = 1\n```\nmore")  # the reply ends at the fence
    two = file_reply.render("a.py", "x = 1\n") + file_reply.BETWEEN + file_reply.render("b.toml", "v = 2\n")
    assert accepts(grammar, two)  # or another block follows
    grammar_module = pytest.importorskip("llama_cpp.llama_grammar")
    assert grammar_module.LlamaGrammar.from_string(grammar, verbose=False) is not None


def test_literals_escape_what_gbnf_would_read_as_syntax():
    assert literal('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    tool = ToolDef("Odd", "x", {"type": "object", "properties": {'k"ey': {"const": "v\\al"}}, "required": ['k"ey']})
    assert accepts(schema_to_gbnf(reply_schema([tool], answer=False)), json.dumps({"name": "Odd", "arguments": {'k"ey': "v\\al"}}))
