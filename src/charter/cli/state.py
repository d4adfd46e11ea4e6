"""Lazily opened settings and runtime shared by the commands of one CLI invocation."""

from __future__ import annotations

from dataclasses import dataclass, field

from charter.core.principal import Principal, local_admin
from charter.core.config import Settings, load_settings
from charter.runtime import Runtime


@dataclass
class CliState:
    debug: bool = False
    _settings: Settings | None = None
    _runtime: Runtime | None = None
    principal: Principal = field(default_factory=local_admin)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.open(self.settings)
        return self._runtime

    def reset(self) -> None:
        """Forget everything loaded by a previous invocation in this process."""
        self.close()
        self.debug = False
        self._settings = None
        self._runtime = None
        self.principal = local_admin()

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


STATE = CliState()
