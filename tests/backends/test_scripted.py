import pytest

from charter.core.chat import ChatMessage, ChatRequest
from charter.core.aliases import AliasConfig
from charter.backends.scripted import ScriptedChat, ScriptedOptions
from charter.core.config import load_settings
from charter.core.errors import BackendRateLimitError, BackendUnavailableError
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


def test_delay_jitter_spreads_call_times_within_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    import charter.backends.scripted as module

    slept: list[float] = []
    monkeypatch.setattr(module.time, "sleep", slept.append)
    model = ScriptedChat(ScriptedOptions(delay=0.1, delay_jitter=0.2))
    for _ in range(200):
        _ask(model)
    assert all(0.08 <= s <= 0.12 for s in slept)
    assert max(slept) - min(slept) > 0.03  # spread over the range, not one fixed time
    again: list[float] = []
    monkeypatch.setattr(module.time, "sleep", again.append)
    fresh = ScriptedChat(ScriptedOptions(delay=0.1, delay_jitter=0.2))
    for _ in range(200):
        _ask(fresh)
    assert again == slept  # seeded: a benchmark run repeats


def test_delay_jitter_out_of_range_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="delay_jitter"):
        ScriptedOptions(delay=0.1, delay_jitter=1.5)


def test_a_context_window_too_small_to_answer_in_is_refused_when_the_alias_is_checked() -> None:
    import pydantic

    from charter.backends.scripted import ScriptedOptions

    with pytest.raises(pydantic.ValidationError, match="context_window"):
        ScriptedOptions.model_validate({"context_window": 10})
    assert ScriptedOptions.model_validate({"context_window": 2048}).context_window == 2048
