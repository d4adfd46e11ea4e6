"""The CLI: commands work, and every failure is one clear line with a non-zero exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from charter.core.config import SETTINGS


def assert_one_line_error(run, *fragments: str, code: int | None = None) -> None:
    assert run.code != 0 if code is None else run.code == code
    assert "Traceback" not in run.err and "Traceback" not in run.out
    lines = [line for line in run.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.err
    for fragment in fragments:
        assert fragment in lines[0]


def test_config_show_lists_every_setting_with_its_source(cli) -> None:
    run = cli("config", "show", "--json", env={"CHARTER_MAX_RETRIES": "4"})
    assert run.code == 0
    rows = {r["name"]: r for r in json.loads(run.out)}
    assert set(rows) == {s.name for s in SETTINGS}
    assert rows["max_retries"]["value"] == "4"
    assert rows["max_retries"]["source"] == "env CHARTER_MAX_RETRIES"
    assert rows["log_level"]["source"] == "default"
    table = cli("config", "show")
    assert table.code == 0 and "request_timeout" in table.out


def test_database_password_is_masked_in_config_show(cli) -> None:
    run = cli("config", "show", "--json",
              env={"CHARTER_DATABASE_URL": "postgresql://u:hunter2@db/charter"})
    assert "hunter2" not in run.out and "***" in run.out


def test_invalid_setting_value(cli) -> None:
    run = cli("models", "list", env={"CHARTER_REQUEST_TIMEOUT": "fast"})
    assert_one_line_error(run, "CHARTER_REQUEST_TIMEOUT", "'fast'", code=2)


def test_unreachable_database(cli) -> None:
    run = cli("ask", "hi", env={"CHARTER_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/x",
                                "CHARTER_DB_CONNECT_TIMEOUT": "2"})
    assert_one_line_error(run, "127.0.0.1:1", "CHARTER_DATABASE_URL", code=1)
    assert ":pw@" not in run.err


def test_database_from_a_newer_version(cli, tmp_path: Path) -> None:
    assert cli("init", "--skip-models").code == 0
    import pysqlite3.dbapi2 as sqlite

    con = sqlite.connect(tmp_path / "data" / "charter.db")
    con.execute("UPDATE alembic_version SET version_num = '0099_future'")
    con.commit()
    con.close()
    assert_one_line_error(cli("models", "list"), "0099_future", "newer", code=1)
    assert_one_line_error(cli("db", "status"), "newer")


def test_init_db_and_default_aliases(cli) -> None:
    from alembic.script import ScriptDirectory

    from charter.store.db import MIGRATIONS_DIR

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    run = cli("init", "--skip-models")
    assert run.code == 0 and f"schema {head}" in run.out
    aliases = {a["name"]: a for a in json.loads(cli("models", "list", "--json").out)}
    assert {"fast", "thinking", "pro", "mini", "local", "embed"} <= set(aliases)
    assert aliases["local"]["backend"] == "llamacpp"
    assert aliases["fast"]["backend"] == "extractive"
    status = cli("db", "status")
    assert f"{head} (newest known: {head})" in status.out
    assert "already at the newest schema" in cli("db", "upgrade").out


def test_models_add_test_remove(cli) -> None:
    run = cli("models", "add", "bot", "--backend", "scripted", "--set", 'replies=["Hello!"]')
    assert run.code == 0 and "version 1" in run.out
    tested = json.loads(cli("models", "test", "bot", "--json").out)
    assert tested["reply"] == "Hello!" and tested["completion_tokens"] > 0
    assert tested["latency_ms"] >= 0
    assert_one_line_error(cli("models", "add", "bot", "--backend", "scripted"), "--replace")
    again = cli("models", "add", "bot", "--backend", "scripted", "--set", "echo=true", "--replace")
    assert "version 2" in again.out
    assert cli("models", "remove", "bot").code == 0
    assert_one_line_error(cli("models", "test", "bot"), "no model alias 'bot'", code=2)


def test_models_add_rejects_bad_input(cli, tmp_path: Path) -> None:
    assert_one_line_error(cli("models", "add", "x", "--backend", "nosuch"),
                          "no chat backend named 'nosuch'", "llamacpp")
    assert_one_line_error(cli("models", "add", "x", "--backend", "llamacpp", "--model",
                              str(tmp_path / "missing.gguf")), "not found")
    notgguf = tmp_path / "weights.bin"
    notgguf.write_bytes(b"\x00" * 64)
    assert_one_line_error(cli("models", "add", "x", "--backend", "llamacpp", "--model",
                              str(notgguf)), "not a GGUF")
    assert_one_line_error(cli("models", "add", "x", "--backend", "scripted", "--set", "nope=1"),
                          "allowed options")
    assert_one_line_error(cli("models", "add", "x", "--backend", "scripted", "--set", "novalue"),
                          "KEY=VALUE")


def test_models_test_reports_an_unreachable_server(cli) -> None:
    cli("models", "add", "remote", "--backend", "openai_compat", "--model", "m",
        "--base-url", "http://127.0.0.1:9/v1", "--set", "timeout=3")
    assert_one_line_error(cli("models", "test", "remote"), "http://127.0.0.1:9/v1")


def test_ask_json_and_stream(cli) -> None:
    cli("models", "add", "bot", "--backend", "scripted", "--set", 'replies=["Two words."]')
    data = json.loads(cli("ask", "--model", "bot", "--json", "hello?").out)
    assert data["answer"] == "Two words." and data["route"]["name"] == "bot"
    streamed = cli("ask", "--model", "bot", "--stream", "hello?")
    assert streamed.code == 0 and streamed.out.startswith("Two words.")
    assert "route bot (user's pick)" in streamed.err
    lines = [json.loads(x) for x in cli("ask", "-m", "bot", "--stream", "--json", "q").out.splitlines()]
    assert "".join(x["delta"] for x in lines[:-1]) == "Two words."
    assert lines[-1]["result"]["answer"] == "Two words."
    assert json.loads(cli("audit", "list", "--json", "--limit", "1").out)["event"] == "chat"
    # The alias added first is audited too: one admin event and three chats.
    assert "4 events" in cli("audit", "verify").out


def test_ask_errors(cli) -> None:
    assert_one_line_error(cli("ask", "-m", "nope", "hi"), "no model alias 'nope'", code=2)
    assert_one_line_error(cli("ask", "  "), "empty", code=2)


def test_unexpected_errors_print_one_line_unless_debug(cli, monkeypatch) -> None:
    from charter.spine.gateway import Gateway

    def boom(self, req):  # noqa: ANN001
        raise RuntimeError("kaput")

    monkeypatch.setattr(Gateway, "ask", boom)
    run = cli("ask", "hi")
    assert run.code == 1 and "internal error: RuntimeError: kaput" in run.err
    assert "--debug" in run.err and "Traceback" not in run.err
    with pytest.raises(RuntimeError):
        cli("--debug", "ask", "hi")


def test_module_entry_point_and_version() -> None:
    out = subprocess.run([sys.executable, "-m", "charter", "--version"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("charter ")


@pytest.mark.integration
@pytest.mark.slow
def test_ask_streams_tokens_from_the_embedded_gemma(tmp_path: Path) -> None:
    """The README's first command: real process, real model, tokens arrive one by one."""
    env = {"CHARTER_DATA_DIR": str(tmp_path / "data"), "PATH": str(Path(sys.executable).parent)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "charter", "ask", "--model", "local", "--stream", "--seed", "1",
         "--max-tokens", "40", "Write two sentences about audit trails."],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    )
    assert proc.stdout is not None
    reads = []
    while True:
        piece = proc.stdout.read1(4096)  # type: ignore[attr-defined]
        if not piece:
            break
        reads.append(piece)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.wait(timeout=300) == 0, err
    text = b"".join(reads).decode()
    assert len(reads) > 3, "the answer arrived in one piece, not as a stream"
    assert text.strip()
    assert "route local (user's pick)" in err
    assert "llama_" not in err, "llama.cpp's own logging leaked into the CLI"
