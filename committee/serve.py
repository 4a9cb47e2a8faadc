"""``committee serve``: the application on waitress, with the sweep that watches the gates.

The sweep runs every ``[gates] sweep_s`` in a daemon thread of the one kiosk shape (a
``stopping`` event, ``while not stopping.wait(interval)``): it raises ``gate.silent`` for
gates whose heartbeats stopped, ends home observations after their last day, removes the
personal fields of registrations past ``[retention] registration_days`` and the pages'
sessions past their idle time. The live pages' publisher (:mod:`committee.live`) runs
beside it and is stopped with it. HTTPS is the
reverse proxy's job (see the README); waitress listens on loopback behind it.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from committee import accounts, heartbeats, live, observation, registrations
from committee.app import Server, create_app

log = logging.getLogger(__name__)


def sweep_once(server: Server) -> dict[str, int]:
    """One pass of the sweep; returns what it did."""
    now = server.now()
    config = server.config
    with server.db.transaction() as session:
        silent = heartbeats.sweep_silent(session, now, config.gates.silent_after_s)
        ended = observation.end_expired(session, server.today(), now)
        purged = registrations.purge(session, now, config.retention.registration_days)
        accounts.purge_idle(session, now, config.web.session_idle_min * 60.0)
    for alert in silent:
        log.warning(
            "gate.silent: gate %s, no heartbeat for %s s",
            alert.gate_id,
            alert.detail.get("silent_s"),
        )
    return {"silent": len(silent), "observations_ended": ended, "registrations_purged": purged}


class Sweeper:
    """Runs *work* every *interval* seconds until :meth:`stop`."""

    def __init__(self, work: Callable[[], object], interval: float) -> None:
        self.work = work
        self.interval = interval
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweep", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                self.work()
            except SQLAlchemyError as exc:
                log.error("sweep: database: %s", exc)
            except Exception:
                log.exception("sweep failed")
            if self.stopping.wait(self.interval):
                return

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the sweep thread did not stop within %.0f s", timeout)


def waitress_options(server: Server) -> dict:
    """waitress settings from ``[server]``: threads, connections, and a body limit at which
    waitress answers 413 itself without reading the rest."""
    settings = server.config.server
    return {
        "threads": settings.threads,
        "connection_limit": settings.connection_limit,
        "channel_timeout": 60,
        "max_request_body_size": 2 << 20,
        "asyncore_use_poll": True,
        "ident": "committee",
    }


def serve(server: Server, host: str, port: int, *, ready: Callable[[str], None] | None = None):
    """Serve until SIGTERM or SIGINT."""
    from waitress.server import create_server

    settings = server.config.server
    options = waitress_options(server)
    if settings.trusted_proxy:
        options.update(
            trusted_proxy=settings.trusted_proxy,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
            clear_untrusted_proxy_headers=True,
        )
    app = create_app(server)
    wsgi = create_server(app, host=host, port=port, **options)
    live.install(wsgi)
    sweeper = Sweeper(lambda: sweep_once(server), server.config.gates.sweep_s).start()

    def _stop(signum, frame) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if ready is not None:
            ready(f"http://{wsgi.effective_host}:{wsgi.effective_port}")
        wsgi.run()
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        wsgi.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sweeper.stop()
        app.extensions["committee.live"].stop()
        server.db.dispose()


class Background:
    """The application on waitress in a background thread, for tests and the demo.

    :param port: 0 picks a free port; :attr:`url` is the base URL a gate is configured with.
    """

    def __init__(
        self, server: Server, host: str = "127.0.0.1", port: int = 0, *, sweep: bool = True
    ) -> None:
        from waitress.server import create_server

        self.server = server
        #: What it is, for a line such as the demo's "Committee: <url> (<description>)".
        self.description = "committee server"
        self.app = create_app(server)
        self.wsgi = create_server(self.app, host=host, port=port, **waitress_options(server))
        live.install(self.wsgi)
        self._sweeper = (
            Sweeper(lambda: sweep_once(server), server.config.gates.sweep_s) if sweep else None
        )
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="committee", daemon=True)

    @property
    def url(self) -> str:
        """The gate API's base URL."""
        return f"{self.pages_url}/api/v1"

    @property
    def pages_url(self) -> str:
        """The committee's pages."""
        return f"http://{self.wsgi.effective_host}:{self.wsgi.effective_port}"

    def start(self) -> Background:
        self._thread.start()
        if self._sweeper is not None:
            self._sweeper.start()
        return self

    def _run(self) -> None:
        wsgi = self.wsgi
        while not self.stopping.is_set():
            wsgi.asyncore.loop(timeout=0.2, map=wsgi._map, use_poll=True, count=1)
        # closed here, in the loop's own thread, never under a poll in progress
        wsgi.close()
        for channel in list(wsgi._map.values()):
            channel.close()
        wsgi.task_dispatcher.shutdown()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving: close the listening socket and every open connection."""
        if self._sweeper is not None:
            self._sweeper.stop()
        self.app.extensions["committee.live"].stop()
        self.stopping.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the committee server thread did not stop within %.0f s", timeout)

    def __enter__(self) -> Background:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
