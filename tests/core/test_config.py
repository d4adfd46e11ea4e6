"""Settings: declared once, read from defaults, charter.toml and CHARTER_* variables."""

from pathlib import Path

import pytest

from charter.core.config import SETTINGS, load_settings, settings_markdown
from charter.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_their_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings({})
    assert s.data_dir == "./charter-data" and s.max_retries == 2 and s.auto_migrate is True
    assert s.source("max_retries") == "default"
    assert s.resolved_database_url.endswith("charter-data/charter.db")


def test_toml_file_then_environment_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "charter.toml").write_text('[charter]\nmax_retries = 5\nlog_level = "info"\n')
    s = load_settings({"CHARTER_LOG_LEVEL": "debug"})
    assert s.max_retries == 5 and s.source("max_retries") == "charter.toml"
    assert s.log_level == "debug" and s.source("log_level") == "env CHARTER_LOG_LEVEL"


def test_explicit_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "other.toml"
    cfg.write_text("request_timeout = 7.5\n")
    assert load_settings({"CHARTER_CONFIG": str(cfg)}).request_timeout == 7.5
    with pytest.raises(ConfigError, match="not a file"):
        load_settings({"CHARTER_CONFIG": str(tmp_path / "missing.toml")})


@pytest.mark.parametrize("var, value, why", [
    ("CHARTER_MAX_RETRIES", "lots", "invalid literal"),
    ("CHARTER_MAX_RETRIES", "-1", "at least 0"),
    ("CHARTER_REQUEST_TIMEOUT", "soon", "could not convert"),
    ("CHARTER_AUTO_MIGRATE", "perhaps", "true or false"),
    ("CHARTER_LOG_LEVEL", "loud", "one of debug"),
    ("CHARTER_SERVER_THREADS", "2", "at least 4"),
    ("CHARTER_SERVER_THREADS", "many", "invalid literal"),
    ("CHARTER_SERVER_WARMUP", "later", "true or false"),
    ("CHARTER_SERVER_TELEMETRY", "otel", "true or false"),
    ("CHARTER_EMBEDDING_QUANTIZED", "int8", "true or false"),
    ("CHARTER_CHARTER_MODEL", "maybe", "true or false"),
    ("CHARTER_PII_MODEL", "sometimes", "true or false"),
    ("CHARTER_KB_REUSE_SCREENING_VECTOR", "int8", "true or false"),
])
def test_invalid_values_name_the_variable_and_how_to_fix(var: str, value: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({var: value})
    message = info.value.message
    assert var in message and repr(value) in message and why in message
    assert "for example" in message


def test_secret_values_are_not_echoed_in_errors() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"CHARTER_DATABASE_URL": ["postgres://u:pw@h/db"]})  # type: ignore[dict-item]
    assert "pw" not in info.value.message


def test_bad_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "charter.toml").write_text("max_retries = = 2\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({})
    (tmp_path / "charter.toml").write_text("max_retry = 2\n")
    with pytest.raises(ConfigError, match="unknown setting.*max_retry"):
        load_settings({})


def test_overrides_are_checked() -> None:
    s = load_settings({}).with_overrides(max_tokens=12)
    assert s.max_tokens == 12 and s.source("max_tokens") == "override"
    with pytest.raises(ConfigError):
        s.with_overrides(max_tokens=0)
    with pytest.raises(ConfigError, match="unknown setting"):
        s.with_overrides(nonsense=1)


def test_every_setting_has_help_and_is_documented() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert doc == settings_markdown(), "run `charter config docs > docs/configuration.md`"
    for s in SETTINGS:
        assert len(s.help) > 20, f"setting {s.name} needs a real help text"
        assert f"`{s.env_var}`" in doc


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.minimum is not None],
                         ids=lambda s: s.name)
def test_every_bounded_setting_refuses_a_value_below_its_minimum(setting) -> None:  # noqa: ANN001
    below = setting.minimum - 1 if isinstance(setting.default, int) else setting.minimum / 2 - 1
    value = str(int(below)) if isinstance(setting.default, int) else str(below)
    with pytest.raises(ConfigError) as info:
        load_settings({setting.env_var: value})
    message = info.value.message
    assert setting.env_var in message and "at least" in message and "for example" in message


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.maximum is not None],
                         ids=lambda s: s.name)
def test_every_setting_with_a_maximum_refuses_a_value_above_it(setting) -> None:  # noqa: ANN001
    above = setting.maximum + 1
    value = str(int(above)) if isinstance(setting.default, int) else str(above)
    with pytest.raises(ConfigError) as info:
        load_settings({setting.env_var: value})
    assert setting.env_var in info.value.message and "at most" in info.value.message
    load_settings({setting.env_var: str(int(setting.maximum)) if isinstance(
        setting.default, int) else str(setting.maximum)})  # the maximum itself is fine


def test_the_thinking_budget_settings_fit_the_budget_they_make() -> None:
    from charter.strategies import thinking_budget

    top = {s.env_var: str(int(s.maximum)) if isinstance(s.default, int) else str(s.maximum)
           for s in SETTINGS if s.name.startswith("thinking_") and s.maximum is not None}
    budget = thinking_budget(load_settings(top))  # no validation error at the limits
    assert budget.steps == 500 and budget.tool_calls == 1000
