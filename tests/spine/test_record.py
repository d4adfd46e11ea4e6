"""The typed audit record of a chat request: its JSON is what the chain hashes."""

from __future__ import annotations

from charter.core.aliases import AliasConfig
from charter.core.chat import ChatMessage, Passage
from charter.core.principal import Principal
from charter.core.result import Decision, Result, RouteInfo
from charter.core.routes import RouteDecision
from charter.spine.record import (ErrorRecord, chat_record, conversation_sha256, model_record,
                                  question_sha256)

ASKER = Principal("ann", frozenset({"user"}))
CONVERSATION = [ChatMessage("system", "Be brief."), ChatMessage("user", "Hi"),
                ChatMessage("user", "  How many days?  ")]


def _record(**kw):  # noqa: ANN003, ANN202
    base = dict(principal=ASKER, question="  How many days?  ", redacted="How many days?",
                messages=CONVERSATION, pii=["EMAIL_ADDRESS"], injection=None, quota_tier="free",
                quota_route="fast", quota_exhausted=False,
                decision=Decision(action="allow", tier="minimal", policy_version=2),
                use_case=None, approved_review=None, route=RouteDecision("fast", "default route"),
                model=None, passages=[Passage(1, "x", passage_id="d:1:0"), Passage(2, "y")],
                dropped=["d:2:0: evidence"], stream=False, strategy=None, latency_ms=12.3456,
                backend_ms=1.0)
    return chat_record(**{**base, **kw})


def test_an_answered_request_records_citations_usage_and_label() -> None:
    result = Result(request_id="req_1", answer="25 days [1].", model="fast",
                    route=RouteInfo(name="fast", reason="default route"), label="AI")
    payload = _record(result=result).payload()
    assert payload["status"] == "ok" and "error" not in payload
    assert payload["citations"] == [] and payload["label"] == "AI"
    assert payload["usage"] == {"prompt_tokens": 0, "completion_tokens": 0}
    assert payload["retrieval"] == {"passages": ["d:1:0", "2"], "neutralised": ["d:2:0: evidence"]}
    assert payload["decision"]["policy_version"] == 2 and payload["latency_ms"] == 12.35
    # The same hash as the route log: of the question, stripped.
    assert payload["prompt"]["sha256"] == question_sha256("How many days?")
    assert payload["prompt"]["pii"] == ["EMAIL_ADDRESS"] and payload["prompt"]["messages"] == 3
    assert payload["prompt"]["chars"] == len("How many days?")
    # The whole conversation has its own hash: another turn, another hash.
    assert payload["prompt"]["conversation_sha256"] == conversation_sha256(CONVERSATION)
    assert conversation_sha256(CONVERSATION[1:]) != conversation_sha256(CONVERSATION)
    assert payload["model"] is None


def test_the_model_is_recorded_with_its_alias_version() -> None:
    alias = AliasConfig("fast", "scripted", "", version=4)
    payload = _record(model=model_record(alias, "scripted:fast")).payload()
    assert payload["model"] == {"alias": "fast", "alias_version": 4, "backend": "scripted",
                                "model": "scripted:fast"}
    assert model_record(None, "x") is None and model_record(alias, None) is None


def test_a_failed_request_records_the_error_instead() -> None:
    payload = _record(error=ErrorRecord(code="backend_unavailable", message="down")).payload()
    assert payload["status"] == "error"
    assert payload["error"] == {"code": "backend_unavailable", "message": "down"}
    assert not {"citations", "usage", "label"} & payload.keys()
