"""Starting the HTTP server: one process, or several workers sharing one socket.

Worker processes are spawned, not forked, so each gets the app from a factory. The
settings travel to them inside the factory (a picklable ``functools.partial``), not
through this process's environment; the one exception is the folder of Prometheus's
multi-process mode, which its client library reads from the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from inspect import signature
from pathlib import Path
from typing import Any

from charter.core.config import Settings


def worker_app(settings: Settings) -> Any:
    """The app of one worker process: its own runtime on the shared database."""
    from charter.server.app import create_app

    return create_app(settings)


def worker_factory(settings: Settings) -> Callable[[], Any]:
    """What each spawned worker calls for its app: picklable, the settings inside."""
    return partial(worker_app, settings)


def serve(settings: Settings, app: Any = None, *,
          factory: Callable[[], Any] | None = None) -> None:
    """Run until interrupted. ``app`` serves in this process (one worker); otherwise
    ``factory`` (default: ``worker_app`` for these settings) builds each worker's app."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    access = settings.log_level in ("debug", "info")  # one line per request: the audit has more
    common: dict[str, Any] = {"host": settings.server_host, "port": settings.server_port,
                              "log_level": settings.log_level, "access_log": access}
    if settings.server_workers <= 1 and app is not None:
        uvicorn.Server(uvicorn.Config(app, **common)).run()
        return
    if settings.server_workers > 1:
        # Each worker counts its own requests into files a scrape of any worker sums
        # (prometheus_client's multi-process mode reads this variable when imported).
        from charter.metrics import prepare_workers

        prepare_workers(str(Path(settings.data_dir) / "metrics"))
    build = factory or worker_factory(settings)
    config = uvicorn.Config(build, factory=True, workers=settings.server_workers, **common)
    server = uvicorn.Server(config)
    if settings.server_workers <= 1:
        server.run()
        return
    socket = config.bind_socket()
    # uvicorn 0.29-0.3x supervisors take the server's run method; newer ones build the
    # worker servers themselves.
    if "target" in signature(Multiprocess.__init__).parameters:
        Multiprocess(config, target=server.run, sockets=[socket]).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=[socket]).run()
