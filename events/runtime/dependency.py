"""Give a nameko service its eventsourcing application, persisted with ``events.mongodb``.

The application is made once per service container and shared by its workers (the
recorders are safe for concurrent use). ``MONGODB_URI`` and ``MONGODB_DATABASE`` come from
the environment, or from the nameko config key ``EVENTSOURCING`` (a mapping of settings).
"""

from __future__ import annotations

from eventsourcing.application import Application
from nameko.extensions import DependencyProvider


class ApplicationDependency(DependencyProvider):
    def __init__(self, application_class: type[Application]) -> None:
        self.application_class = application_class
        self.application: Application | None = None

    def setup(self) -> None:
        settings = dict(self.container.config.get("EVENTSOURCING") or {})
        env = {"PERSISTENCE_MODULE": "events.mongodb", **settings}
        self.application = self.application_class(env=env)

    def stop(self) -> None:
        if self.application is not None:
            self.application.close()
            self.application = None

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: object) -> Application:
        return self.application
