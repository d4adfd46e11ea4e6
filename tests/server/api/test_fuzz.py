"""Fuzzing the chat and upload APIs: full Unicode (lone surrogates and control characters
included), odd JSON shapes and depths, long and odd file names, damaged files. Whatever
comes in, the answer is never a 500, every error has the documented shape, and the
server still answers an ordinary request afterwards.

Cases per run: CHAT_CASES + RAW_CASES + UPLOAD_CASES + JOB_CASES (and the loader fuzz of
tests/knowledge/loaders/conformance.py, FUZZ_CASES per loader).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import Served

CHAT_CASES = 150
RAW_CASES = 100
UPLOAD_CASES = 80
JOB_CASES = 25  # uploads that all run as background jobs, each read in a child process

# Hypothesis's text never holds a lone surrogate, so they (and the control and format
# characters that make trouble) are planted in it.
SPECIAL = st.sampled_from(["\ud800", "\udfff", "\ud83d", "\x00", "\x1b", "\x7f", "\x85",
                           "\u202e", "\ufeff", "\u2028", "\r", "\t"])


def _plant(case: tuple[str, list[tuple[float, str]]]) -> str:
    text, planted = case
    for where, char in planted:
        at = int(where * len(text))
        text = text[:at] + char + text[at:]
    return text


ANY_TEXT = st.tuples(st.text(st.characters(exclude_categories=()), max_size=300),
                     st.lists(st.tuples(st.floats(0, 1), SPECIAL), max_size=3)).map(_plant)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70),
                    st.floats(allow_nan=False), ANY_TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(ANY_TEXT, inner, max_size=4)), max_leaves=20)


def _deep(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def mostly(usual: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` four times in five, else ``odd``: cases reach past validation too."""
    return st.integers(0, 4).flatmap(lambda i: odd if i == 0 else usual)


ROLES = st.sampled_from(["user", "system", "developer", "assistant"])
CONTENT = mostly(ANY_TEXT, st.one_of(
    st.none(), st.integers(), st.integers(1, 300).map(_deep),
    st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"])},
                                   optional={"text": ANY_TEXT}), max_size=3)))
MESSAGE = st.fixed_dictionaries(
    {"role": mostly(ROLES, st.one_of(st.just("tool"), ANY_TEXT)), "content": CONTENT},
    optional={"name": ANY_TEXT})
USER = st.fixed_dictionaries({"role": st.just("user"), "content": ANY_TEXT})
CHAT_BODY = st.fixed_dictionaries(
    {"messages": mostly(st.tuples(st.lists(MESSAGE, max_size=4), USER).map(
        lambda t: [*t[0], t[1]]), JSON_VALUES)},
    optional={"model": mostly(st.sampled_from(["auto", "fast", "thinking", "mini"]),
                              st.one_of(ANY_TEXT, st.integers())),
              "stream": mostly(st.booleans(), ANY_TEXT),
              "max_tokens": mostly(st.integers(1, 2**31 - 1), st.one_of(
                  st.integers(-5, 2**40), st.none(), ANY_TEXT)),
              "temperature": mostly(st.floats(0, 2), st.floats(-3, 5, allow_nan=False)),
              "seed": st.integers(-(2**70), 2**70),
              "charter": mostly(st.fixed_dictionaries(
                  {}, optional={"personality": ANY_TEXT, "instructions": ANY_TEXT,
                                "use_case": ANY_TEXT}), JSON_VALUES),
              "extra": JSON_VALUES})


def fuzz(cases: int) -> settings:
    return settings(max_examples=cases, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


def _check(r: httpx.Response, seen: Counter[int]) -> None:
    seen[r.status_code] += 1
    assert r.status_code < 500, f"{r.status_code}: {r.text[:300]}"
    if r.status_code >= 400:
        error = r.json()["error"]
        assert {"message", "type", "code"} <= set(error) and error["message"].strip()
    elif "text/event-stream" in r.headers.get("content-type", ""):
        events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
        assert events and events[-1] in ("[DONE]",) or '"error"' in events[-1]


def _post_json(c: httpx.Client, path: str, body: Any) -> httpx.Response:
    # json.dumps escapes lone surrogates as \\udXXX, as a JavaScript client would send them.
    return c.post(path, content=json.dumps(body).encode(),
                  headers={"Content-Type": "application/json"})


def _still_answers(served: Served) -> None:
    with served.client("user") as c:
        r = c.post("/v1/chat/completions",
                   json={"messages": [{"role": "user", "content": "Is the server alive?"}]})
        assert r.status_code == 200, r.text


def test_chat_bodies_never_make_a_500(served: Served) -> None:
    seen: Counter[int] = Counter()
    with served.client("user") as c:
        @fuzz(CHAT_CASES)
        @given(body=CHAT_BODY)
        def run(body: dict[str, Any]) -> None:
            _check(_post_json(c, "/v1/chat/completions", body), seen)

        run()
    # The cases reach past validation: some are answered, most are refused.
    print("chat statuses", dict(seen))
    assert seen[200] >= 1 and seen[400] + seen[422] >= 3, seen  # 200s: 2-11 of 150 seen
    assert sum(seen.values()) >= CHAT_CASES
    _still_answers(served)


def test_raw_bodies_and_any_json_never_make_a_500(served: Served) -> None:
    seen: Counter[int] = Counter()
    with served.client("user") as c:
        @fuzz(RAW_CASES)
        @given(body=st.one_of(st.binary(max_size=500), JSON_VALUES.map(
            lambda v: json.dumps(v).encode()), st.integers(1, 5000).map(
            lambda d: b"[" * d + b"]" * d)),
            path=st.sampled_from(["/v1/chat/completions", "/v1/embeddings", "/api/feedback",
                                  "/api/me/profile"]))
        def run(body: bytes, path: str) -> None:
            _check(c.post(path, content=body, headers={"Content-Type": "application/json"}),
                   seen)

        run()
    assert sum(seen.values()) >= RAW_CASES, seen
    _still_answers(served)


SUFFIXES = st.sampled_from([".md", ".txt", ".pdf", ".docx", ".html", ".csv", ".jsonl",
                            ".exe", ""])
FILE_NAMES = st.one_of(st.tuples(ANY_TEXT, SUFFIXES).map("".join),
                       st.integers(1, 300).map(lambda n: "é" * n + ".md"))
BODIES = st.one_of(st.binary(max_size=2000),
                   ANY_TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
                   st.just(b"PK\x03\x04" + b"\x00" * 100), st.just(b"%PDF-1.4\n%%EOF"))


UPLOAD_PARAMS = st.fixed_dictionaries({}, optional={
    "classification": ANY_TEXT, "groups": ANY_TEXT, "document": ANY_TEXT})


# Names an upload accepts, so that a case reaches the loaders (and, for a job, its child).
PLAIN_NAMES = st.tuples(st.text("abcdefghij-_ 0123456789é", min_size=1, max_size=20).filter(
    lambda t: t.strip() == t and not t.startswith(".")),
    st.sampled_from([".md", ".txt", ".pdf", ".docx", ".html", ".csv", ".jsonl"])).map("".join)


def _fuzz_uploads(c: httpx.Client, cases: int, seen: Counter[int],
                  names: st.SearchStrategy[str] = FILE_NAMES,
                  params: st.SearchStrategy[dict[str, str]] = UPLOAD_PARAMS,
                  ) -> list[httpx.Response]:
    """Post ``cases`` fuzzed uploads; the responses, checked."""
    answers: list[httpx.Response] = []

    @fuzz(cases)
    @given(name=names, body=BODIES, params=params)
    def run(name: str, body: bytes, params: dict[str, str]) -> None:
        query = {"filename": name, **params}
        try:
            url = httpx.URL("/api/documents", params=query)
        except (UnicodeEncodeError, httpx.InvalidURL):
            return  # a name no HTTP client can put in a URL
        answer = c.post(url, content=body)
        _check(answer, seen)
        answers.append(answer)

    run()
    return answers


def test_uploads_never_make_a_500(served: Served) -> None:
    seen: Counter[int] = Counter()
    with served.client("admin") as c:
        _fuzz_uploads(c, UPLOAD_CASES, seen)
    print("upload statuses", dict(seen))
    assert seen[200] >= 1 and seen[400] >= 1 and seen[422] + seen[413] >= 1, seen
    _still_answers(served)
    with served.client("admin") as c:
        assert c.get("/api/documents").status_code == 200


def test_background_uploads_never_end_in_an_internal_error(settings: Any) -> None:
    """Every upload a job: each job ends done, or failed with a documented error that
    is not an internal one, and names no server path."""
    import time

    from tests.server.conftest import _start

    seen: Counter[int] = Counter()
    server = _start(settings.with_overrides(kb_background_mb=0.0, jobs_max_queued=JOB_CASES),
                    scripted=True)
    served = next(server)
    try:
        data = str(served.runtime.settings.data_path)
        with served.client("admin") as c:
            answers = _fuzz_uploads(c, JOB_CASES, seen, mostly(PLAIN_NAMES, FILE_NAMES),
                                    mostly(st.just({}), UPLOAD_PARAMS))
            jobs = [r.json()["url"] for r in answers if r.status_code == 202]
            assert jobs, seen
            ended: Counter[str] = Counter()
            for url in jobs:
                deadline = time.monotonic() + 120
                while (job := c.get(url).json())["state"] not in ("done", "failed"):
                    assert time.monotonic() < deadline, job
                    time.sleep(0.05)
                ended[job["state"]] += 1
                assert data not in json.dumps(job)
                if job["state"] == "failed":
                    error = job["error"]["error"]
                    assert {"message", "type", "code"} <= set(error), job
                    # the file's fault only: never the job machinery's
                    assert error["code"] in ("unreadable_document", "document_too_large",
                                             "invalid_input"), job
        print("background upload statuses", dict(seen), "jobs", dict(ended))
        assert ended["done"] >= 1, ended  # some cases are real files, read in the child
        _still_answers(served)
    finally:
        server.close()
