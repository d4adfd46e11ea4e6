"""The in-process GGUF backend on the packaged Gemma 3 270M."""

from pathlib import Path

import pytest

from charter.backends import registry
from charter.core.aliases import AliasConfig
from charter.backends.llamacpp import (
    LlamaCppChat,
    LlamaCppOptions,
    packaged_model_path,
    render_transcript,
    resolve_gguf,
)
from charter.core.chat import ChatMessage
from charter.core.config import load_settings
from charter.core.errors import ModelFileError
from tests.backends.chat_conformance import ChatModelConformance


@pytest.mark.integration
@pytest.mark.slow
class TestLlamaCppConformance(ChatModelConformance):
    @pytest.fixture
    def model(self) -> LlamaCppChat:
        return LlamaCppChat("packaged", LlamaCppOptions(), load_settings({}))


@pytest.mark.integration
def test_model_is_loaded_once_and_shared() -> None:
    settings = load_settings({})
    a = LlamaCppChat("packaged", LlamaCppOptions(temperature=0.1), settings)
    b = LlamaCppChat(str(packaged_model_path()), LlamaCppOptions(temperature=0.9), settings)
    assert a.llm is b.llm


def test_missing_gguf_path(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="not found.*\\.gguf"):
        resolve_gguf(str(tmp_path / "nope.gguf"))


def test_file_that_is_not_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip, not a model")
    with pytest.raises(ModelFileError, match="not a GGUF model file"):
        resolve_gguf(str(fake))
    with pytest.raises(ModelFileError, match="folder"):
        resolve_gguf(str(tmp_path))


def test_bad_path_is_caught_when_the_alias_is_added(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError):
        registry.check_alias(AliasConfig("x", "llamacpp", str(tmp_path / "missing.gguf")))


def test_transcript_rendering() -> None:
    text = render_transcript([ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"),
                              ChatMessage("assistant", "Hello."), ChatMessage("user", "Bye")])
    assert text == "Be brief.\n\nUser: Hi\nAssistant: Hello.\nUser: Bye\nAssistant:"


def test_the_tools_schema_allows_a_listed_call_and_an_answer_unless_a_call_is_required(
        ) -> None:
    from charter.backends.llamacpp import read_tool_reply, tools_schema
    from charter.core.chat import FunctionCall, ToolSpec

    tool = ToolSpec("calculator", "Compute.", {"type": "object", "properties": {
        "expression": {"type": "string"}}, "required": ["expression"]})
    free, forced = tools_schema([tool], required=False), tools_schema([tool], required=True)
    assert [o["properties"].get("tool", {}).get("const") for o in free["anyOf"]] == [
        "calculator", None]
    assert len(forced["anyOf"]) == 1
    assert read_tool_reply('{"tool": "calculator", "arguments": {"expression": "1"}}') == (
        "", (FunctionCall("calculator", '{"expression": "1"}'),))
    assert read_tool_reply('{"answer": "It is 4."}') == ("It is 4.", ())
    assert read_tool_reply('{"tool": "calcul') == ('{"tool": "calcul', ())  # cut short


@pytest.mark.integration
def test_the_packaged_gemma_under_the_grammar_writes_a_call_of_a_listed_tool() -> None:
    from charter.core.chat import ChatRequest, ToolSpec

    model = LlamaCppChat("packaged", LlamaCppOptions(temperature=0.0), load_settings({}))
    tool = ToolSpec("calculator", "Compute an arithmetic expression.", {
        "type": "object", "properties": {"expression": {"type": "string"}},
        "required": ["expression"]})
    done = model.complete(ChatRequest(
        [ChatMessage("system", "You can use the calculator tool."),
         ChatMessage("user", "What is 17 * 3?")], tools=[tool], tool_choice="required",
        max_tokens=64, seed=1))
    (call,) = done.tool_calls
    assert call.name == "calculator"
    import json

    assert isinstance(json.loads(call.arguments)["expression"], str)
