"""The gateway bench's real path: the mock model server, Charter in front of it through
openai_compat with the demo handbook, the peer's configuration, and CPU accounting."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from charter.bench import gateway as bench
from charter.bench.mock_model import ANSWER, PLAIN, completion, delay_ms
from charter.bench.process import cpu_seconds, peak_rss_mb, tree
from charter.core.errors import CharterError


def test_the_mock_delay_is_a_function_of_the_question_within_the_jitter() -> None:
    times = [delay_ms(f"How do I file expense claim {i}?", 150, 0.2) for i in range(200)]
    assert all(120 <= t <= 180 for t in times)
    assert max(times) - min(times) > 40  # spread over the range, not one value
    assert delay_ms("same question", 150, 0.2) == delay_ms("same question", 150, 0.2)
    assert delay_ms("anything", 150, 0.0) == 150


def test_the_mock_cites_a_source_only_when_the_prompt_numbers_sources() -> None:
    sourced = completion({"model": "mock", "messages": [
        {"role": "system", "content": "Sources:\n[1] Leave is 25 days."},
        {"role": "user", "content": "How much leave?"}]})
    assert sourced["choices"][0]["message"]["content"] == ANSWER
    bare = completion({"messages": [{"role": "user", "content": "How much leave?"}]})
    assert bare["choices"][0]["message"]["content"] == PLAIN and bare["usage"]["completion_tokens"]


def test_charter_answers_through_the_mock_with_the_handbook_retrieved(tmp_path: Path) -> None:
    """What the bench measures is the real path: retrieval (a cited answer), quota
    counted, the model's time at the mock subtracted per question."""
    mock = bench._start_mock(30.0, 0.2)
    try:
        key = bench._prepare(tmp_path / "data", mock_url=mock.url + "/v1")
        server = bench.Server.charter(tmp_path / "data", 1, None)
        port = bench._free_port()
        process = bench.spawn(server.command(port), server.env)
        try:
            url = f"http://127.0.0.1:{port}"
            bench._wait(url, key, process)
            lat, over, _, _ = asyncio.run(bench._load(
                url, key, 2, 6, 0, questions=bench.WORKPLACE,
                model_ms=lambda q: delay_ms(q, 30.0, 0.2)))
            assert all(x >= 24 for x in lat)  # the mock's 30 ms +-20 % are in the latency
            import httpx

            answer = httpx.post(url + "/v1/chat/completions",
                                headers={"Authorization": f"Bearer {key}"}, timeout=30,
                                json={"model": "auto", "messages": [{"role": "user", "content":
                                      "How many days of annual leave do full-time staff get?"}]})
            body = answer.json()
            assert answer.status_code == 200, body
            assert body["charter"]["citations"], body  # the handbook was retrieved and cited
            assert cpu_seconds(process.pid) > 0 and peak_rss_mb(process.pid) > 50
        finally:
            bench.stop(process)
    finally:
        bench.stop(mock.process)
    from charter.core.config import load_settings
    from charter.runtime import Runtime

    rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(tmp_path / "data")}))
    try:
        used = rt.quotas.usage("bench")
        assert sum(u.requests for u in used) >= 7  # every request was counted
    finally:
        rt.close()


def test_cpu_of_a_process_tree_counts_its_children() -> None:
    burn = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'import time\\nt=time.process_time()\\nwhile time.process_time()-t<0.3: pass']);"
            " sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(5)']);"
            " import time; time.sleep(5)")
    parent = subprocess.Popen([sys.executable, "-c", burn])
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds(parent.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cpu_seconds(parent.pid) >= 0.3  # the child's busy loop, after it exited too
        while len(tree(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(tree(parent.pid)) >= 2  # the sleeping child is part of the tree
    finally:
        parent.kill()
        parent.wait()


def test_the_peer_needs_its_own_environment(tmp_path: Path) -> None:
    with pytest.raises(CharterError, match="scripts/bench-peer.sh"):
        bench.run(10, 50, peer="litellm", peer_python=tmp_path / "bin" / "python")
    with pytest.raises(CharterError, match="peer must be one of litellm"):
        bench.run(10, 50, peer="nginx")
    with pytest.raises(CharterError, match="drop --scripted"):
        bench.run(10, 50, backend="scripted", peer="litellm")
    with pytest.raises(CharterError, match="add --scripted"):
        bench.run(10, 50, floors=True)


def test_the_peer_is_configured_for_the_same_mock_offline(tmp_path: Path) -> None:
    server = bench.Server.litellm(tmp_path / "litellm", tmp_path, "http://127.0.0.1:9/v1", 2)
    config = (tmp_path / "litellm.yaml").read_text()
    assert "api_base: http://127.0.0.1:9/v1" in config and "model_name: auto" in config
    assert f"master_key: {bench.PEER_KEY}" in config
    assert server.env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert server.command(4000)[-4:] == ["--num_workers", "2", "--port", "4000"]
    assert os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP") is None  # only the peer's env


def test_scripted_runs_refuse_the_real_path_options() -> None:
    with pytest.raises(CharterError, match="drop --scripted"):
        bench.run(10, 50, backend="scripted", database="postgres")
    with pytest.raises(CharterError, match="--unmonitored compares the real path"):
        bench.run(10, 50, backend="scripted", unmonitored=True)
    with pytest.raises(CharterError, match="database must be one of sqlite, postgres"):
        bench.run(10, 50, database="mysql")


def test_the_load_spreads_its_clients_over_several_servers() -> None:
    """The clients take the servers in turn: with the second one not listening the load
    fails, so it is used; with both up, every request is answered."""
    first, second = bench._start_mock(20.0, 0.0), bench._start_mock(20.0, 0.0)
    nobody = f"http://127.0.0.1:{bench._free_port()}"
    try:
        lat, _, _, _ = asyncio.run(bench._load([first.url, second.url], "k", 2, 4, 0,
                                               questions=["q {i}"], model_ms=lambda q: 20.0))
        assert len(lat) == 4
        with pytest.raises(OSError):
            asyncio.run(bench._load([first.url, nobody], "k", 2, 4, 0, questions=["q {i}"],
                                    model_ms=lambda q: 20.0))
    finally:
        bench.stop(first.process)
        bench.stop(second.process)


def test_the_unmonitored_server_samples_and_counts_nothing(tmp_path: Path) -> None:
    """The comparison server of --unmonitored: same path, no drift samples."""
    from charter.core.config import load_settings
    from charter.runtime import Runtime
    from charter.store.drift import DriftRepository

    mock = bench._start_mock(20.0, 0.0)
    try:
        key = bench._prepare(tmp_path / "data", mock_url=mock.url + "/v1")
        server = bench.Server.charter(tmp_path / "data", 1, None, monitored=False)
        assert server.label == bench.UNMONITORED
        port = bench._free_port()
        process = bench.spawn(server.command(port), server.env)
        try:
            url = f"http://127.0.0.1:{port}"
            bench._wait(url, key, process)
            asyncio.run(bench._load(url, key, 2, 4, 0, questions=bench.WORKPLACE))
        finally:
            bench.stop(process)
        rt = Runtime.open(load_settings({"CHARTER_DATA_DIR": str(tmp_path / "data")}))
        try:
            assert DriftRepository(rt.db).count() == 0
            assert rt.audit.records(event="chat")  # the requests were served and audited
        finally:
            rt.close()
    finally:
        bench.stop(mock.process)
