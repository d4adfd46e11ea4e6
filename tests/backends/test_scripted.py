import pytest

from charter.backends.base import AliasConfig, ChatMessage, ChatRequest
from charter.backends.scripted import ScriptedChat, ScriptedOptions
from charter.config import load_settings
from charter.errors import BackendRateLimitError, BackendUnavailableError
from tests.backends.chat_conformance import ChatModelConformance


class TestScriptedConformance(ChatModelConformance):
    @pytest.fixture
    def model(self) -> ScriptedChat:
        return ScriptedChat(ScriptedOptions(replies=["Audit trails record who did what, and when."]))


def _ask(model: ScriptedChat, text: str = "hi") -> str:
    return model.complete(ChatRequest([ChatMessage("user", text)])).text


def test_replies_cycle_in_order() -> None:
    model = ScriptedChat(ScriptedOptions(replies=["one", "two"]))
    assert [_ask(model) for _ in range(3)] == ["one", "two", "one"]


def test_echo_returns_the_question() -> None:
    model = ScriptedChat(ScriptedOptions(echo=True))
    assert _ask(model, "what is the leave policy?") == "what is the leave policy?"


@pytest.mark.parametrize("fail, error", [("unavailable", BackendUnavailableError),
                                         ("rate_limited", BackendRateLimitError)])
def test_scripted_failures_raise_charter_errors(fail: str, error: type) -> None:
    model = ScriptedChat(ScriptedOptions(fail=fail))
    with pytest.raises(error):
        _ask(model)


def test_built_from_an_alias() -> None:
    alias = AliasConfig("t", "scripted", "demo", {"replies": ["x"]})
    model = ScriptedChat.from_alias(alias, load_settings({}))
    assert model.model_id == "scripted:demo" and _ask(model) == "x"
