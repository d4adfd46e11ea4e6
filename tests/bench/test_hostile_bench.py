"""The hostile-input benches: each case answered through the real server (or a fresh
interpreter for the loaders), with the figures the closing notes quote."""

from __future__ import annotations

from charter.bench import crafted
from charter.bench import hostile as bench


def test_the_loader_bench_loads_each_file_in_a_fresh_process(monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(bench, "LOADER_CASES", (
        ("pdf: page tree", crafted.pdf_page_tree),
        ("markdown: heading", crafted.heading_spaces)))
    refused, loaded = bench.loaders()
    assert refused["outcome"].startswith("LimitError") and "kb_max_pages" in refused["outcome"]
    assert loaded["outcome"] == "1 document(s), 1 chunks"
    assert all(r["seconds"] >= 0 and r["peak_rss_mb"] > 0 for r in (refused, loaded))


def test_the_hostile_bench_sends_each_case_to_a_server_while_a_client_chats() -> None:
    cases = tuple(c for c in bench.CASES if "jsonl" in c.name or "chat message" in c.name)
    out = bench.run(cases=cases)
    deep, message = out["cases"]
    assert (deep["status"], message["status"]) == (413, 400)
    assert deep["answer"].startswith("document_too_large") and "kb_max_depth" in deep["answer"]
    assert message["answer"].startswith("conversation_too_large")
    assert out["alone_p50_ms"] > 0 and message["peak_rss_mb"] > 0
