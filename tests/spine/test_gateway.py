"""The spine, end to end with the scripted and extractive backends."""

from __future__ import annotations

import threading

import pytest

from charter.core.principal import Principal, local_admin
from charter.core.chat import ChatMessage, Passage
from charter.core.aliases import AliasConfig
from charter.core.errors import BackendUnavailableError, InvalidInputError, UnknownAliasError
from charter.spine.gateway import Gateway
from charter.spine.request import AskRequest, Delta
from charter.runtime import Runtime
from charter.core.result import Result

ADMIN = local_admin()


def req(text: str = "What is an audit trail?", model: str = "auto", **kw) -> AskRequest:
    return AskRequest(messages=[ChatMessage("user", text)], principal=kw.pop("principal", ADMIN),
                      model=model, **kw)


@pytest.fixture
def gw(runtime: Runtime) -> Gateway:
    runtime.aliases.add(AliasConfig("script", "scripted", "", {"replies": ["Scripted answer."]}))
    runtime.aliases.add(AliasConfig("broken", "scripted", "", {"fail": "unavailable"}))
    return runtime.gateway


def test_result_has_the_one_schema(gw: Gateway) -> None:
    result = gw.ask(req(model="script"))
    data = result.model_dump()
    assert set(data) == {"request_id", "answer", "model", "route", "decision", "citations",
                         "label", "usage", "timing", "finish_reason", "tool_calls"}
    assert 0 <= data["timing"]["backend_ms"] <= data["timing"]["total_ms"]
    assert set(data["route"]) == {"name", "reason", "score", "router_version", "quota_exhausted"}
    assert set(data["decision"]) == {"action", "tier", "category", "reason", "alternatives",
                                     "review_id"}
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens"}
    assert result.answer == "Scripted answer."
    assert result.model == "script" and result.route.reason == "user's pick"
    assert result.decision.action == "allow"
    assert data["tool_calls"] == []  # the request offered no tools
    assert result.request_id.startswith("req_")
    assert result.usage.completion_tokens > 0


def test_auto_takes_the_default_route(gw: Gateway) -> None:
    result = gw.ask(req())
    assert result.route.name == "fast" and result.route.reason == "default route"
    assert result.model == "fast"  # the extractive default, which has no sources yet
    assert "no sources" in result.answer


def test_every_request_is_audited_with_pii_redacted(gw: Gateway, runtime: Runtime) -> None:
    question = "Mail jane.doe@example.com about card 4111 1111 1111 1111, please"
    result = gw.ask(req(question, model="script"))
    records = runtime.audit.records(request_id=result.request_id)
    assert len(records) == 1
    payload = records[0].payload
    assert payload["status"] == "ok"
    assert payload["route"]["name"] == "script" and payload["route"]["reason"] == "user's pick"
    assert payload["model"]["backend"] == "scripted" and payload["model"]["alias_version"] == 1
    assert payload["principal"]["id"] == "local-admin"
    assert payload["prompt"]["redacted"] == "Mail <EMAIL_ADDRESS> about card <CREDIT_CARD>, please"
    assert payload["prompt"]["pii"] == ["CREDIT_CARD", "EMAIL_ADDRESS"]
    assert "jane.doe" not in str(records[0]) and "4111" not in str(records[0])
    assert payload["decision"]["policy_version"] == 1
    assert runtime.audit.verify() == 1


def test_a_charter_may_let_the_audit_keep_personal_data(gw: Gateway, runtime: Runtime) -> None:
    from charter.policy.versions import default_charter_text

    body = default_charter_text()
    assert "redact_in_audit: true" in body
    runtime.policies.propose(body.replace("redact_in_audit: true", "redact_in_audit: false"),
                             "alice", "the audit may hold contact details")
    runtime.policies.approve(2, "bob")
    question = "Mail jane.doe@example.com about the offsite"
    result = gw.ask(req(question, model="script"))
    payload = runtime.audit.records(request_id=result.request_id)[0].payload
    assert payload["prompt"]["redacted"] == question
    assert payload["prompt"]["pii"] == ["EMAIL_ADDRESS"]


def test_unknown_alias_and_empty_question(gw: Gateway) -> None:
    with pytest.raises(UnknownAliasError, match="charter models add"):
        gw.ask(req(model="nope"))
    with pytest.raises(InvalidInputError, match="no question"):
        gw.ask(req("   "))


def test_backend_failure_is_raised_and_audited(gw: Gateway, runtime: Runtime) -> None:
    with pytest.raises(BackendUnavailableError):
        gw.ask(req(model="broken"))
    (record,) = runtime.audit.records()
    assert record.payload["status"] == "error"
    assert record.payload["error"]["code"] == "backend_unavailable"


def test_stream_yields_deltas_then_the_result(gw: Gateway, runtime: Runtime) -> None:
    events = list(gw.ask_stream(req(model="script")))
    *deltas, final = events
    assert deltas and all(isinstance(d, Delta) for d in deltas)
    assert isinstance(final, Result)
    assert "".join(d.text for d in deltas).strip() == final.answer == "Scripted answer."
    assert runtime.audit.records()[0].payload["stream"] is True


def test_errors_before_the_first_token_are_raised_by_ask_stream(gw: Gateway) -> None:
    with pytest.raises(UnknownAliasError):
        gw.ask_stream(req(model="nope"))


def test_an_abandoned_stream_is_audited_as_cancelled(gw: Gateway, runtime: Runtime) -> None:
    stream = gw.ask_stream(req(model="script"))
    next(stream)
    stream.close()
    (record,) = runtime.audit.records()
    assert record.payload["error"]["code"] == "cancelled"


class _Retriever:
    def retrieve(self, principal: Principal, question: str, **_: object) -> list[Passage]:
        return [Passage(1, "Audit trails are records of who did what and when.", "guide.md",
                        "Audit", "p-1")]


def test_citations_resolve_to_retrieved_passages(runtime: Runtime) -> None:
    gw = Gateway(runtime.settings, runtime.db, retriever=_Retriever())
    result = gw.ask(req("What are audit trails?"))
    assert result.answer.endswith("[1]")
    assert [(c.n, c.document, c.location) for c in result.citations] == [(1, "guide.md", "Audit")]
    assert runtime.audit.records()[0].payload["retrieval"]["passages"] == ["p-1"]


def test_concurrent_requests_each_get_one_audit_record(gw: Gateway, runtime: Runtime) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            rid = gw.ask(req(model="script")).request_id
            with lock:
                ids.append(rid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ids)) == 40
    assert runtime.audit.verify() == 40


def test_markers_for_passages_not_retrieved_are_dropped(runtime: Runtime) -> None:
    runtime.aliases.add(AliasConfig("liar", "scripted", "", {
        "replies": ["Audit trails record actions [1]. They also cure colds [7]."]}))
    gw = Gateway(runtime.settings, runtime.db, retriever=_Retriever())
    result = gw.ask(req("What are audit trails?", model="liar"))
    assert result.answer == "Audit trails record actions [1]. They also cure colds."
    assert [c.n for c in result.citations] == [1]
    assert result.citations[0].quote == "Audit trails are records of who did what and when."
