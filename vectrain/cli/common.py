"""What every CLI command shares: opening the store (or finding the service that holds it),
printing tables and JSON, and turning errors into one clear line.

The heavy libraries (the settings, the engine's client, httpx) are imported when a command first
needs them: `vectrain --help` and a command that goes to a running service never pay for the
embedded engine."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

from vectrain.core.errors import EngineLocked, VectrainError

if TYPE_CHECKING:
    from vectrain.core.config import Settings
    from vectrain.storage.store import Store


class Context:
    """Lazily opens the embedded store, or talks to a running service over HTTP."""

    def __init__(self, url: str | None, as_json: bool):
        self._url = url
        self.as_json = as_json
        self._store: Store | None = None
        self._remote: str | None | bool = False  # False: not decided yet
        self.local_secret: str | None = None  # the serving process's secret, when it runs on this machine

    @cached_property
    def settings(self) -> Settings:
        from vectrain.core.config import get_settings

        return get_settings()

    @property
    def url(self) -> str | None:
        return self._url or self.settings.service_url

    def store(self, command: str = "vectrain") -> Store:
        if self._store is None:
            from vectrain.storage.store import Store

            self._store = Store(self.settings, owner=command)
            self._store.migrate()
        return self._store

    def remote(self) -> str | None:
        """The service to send this command to: --url, or the serve process holding the path."""
        if self._remote is False:
            self._remote = self._find_remote()
        return self._remote

    def _find_remote(self) -> str | None:
        if self.url:
            return self.url.rstrip("/")
        from vectrain.core import trust
        from vectrain.storage.engine import Target, lock_holder_url

        target = Target.parse(self.settings.database_url)
        if target.kind != "chdb":
            return None
        try:
            self.store()
        except EngineLocked:
            url = lock_holder_url(target.path)
            if url:
                click.echo(f"(the database is held by the service at {url}; sending the request there)", err=True)
                # Only to the service that holds our path: it proves this is its machine and user.
                self.local_secret = trust.read_secret(target.path)
                return url
            raise
        return None

    @property
    def labeler(self) -> str:
        """VECTRAIN_LABELER, checked as the service checks its header ('' : no name)."""
        from vectrain.core.validation import check_labeler

        name = self.settings.labeler
        return check_labeler(name, "VECTRAIN_LABELER") if name.strip() else ""

    def http(self, method: str, path: str, **kwargs) -> Any:
        import httpx

        from vectrain.core import trust

        url = self.remote()
        headers = kwargs.pop("headers", {})
        if self.settings.api_key:
            headers["Authorization"] = f"Bearer {self.settings.api_key}"
        if self.labeler:
            headers["X-Vectrain-Labeler"] = self.labeler
        if self.local_secret:
            headers[trust.HEADER] = self.local_secret
        try:
            response = httpx.request(method, f"{url}{path}", timeout=600, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"Cannot reach the vectrain service at {url}: {exc}") from None
        if response.status_code >= 400:
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:500]
            hint = " (set VECTRAIN_API_KEY)" if response.status_code == 401 else ""
            raise click.ClickException(f"{response.status_code}: {detail}{hint}")
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.content

    def call(
        self, method: str, path: str, local: Callable[[Store], Any], json: Any = None, params: dict | None = None
    ) -> Any:
        """The one dispatch of every command that can run here or in the service: send the
        request to the running service when there is one (--url, or the `vectrain serve` that
        holds the embedded database), else run `local` on the store in this process. The result
        is the same either way: the service's JSON is what `local` returns."""
        if self.remote():
            kwargs = {k: v for k, v in (("json", json), ("params", params)) if v is not None}
            return self.http(method, path, **kwargs)
        return local(self.store())

    def close(self) -> None:
        if self._store is not None:
            from vectrain.labeling import background

            background.settle(BACKGROUND_WAIT)  # a round's estimate, computed after `session train`
            self._store.close()


BACKGROUND_WAIT = 600.0  # seconds a command waits for its background work before closing the store


def handle_errors(fn: Callable) -> Callable:
    """Print a VectrainError as one line (exit 1) instead of a stack trace."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except VectrainError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def echo_table(columns: list[str], rows: list[list[Any]], out=None) -> None:
    """A plain aligned table; long cells are cut."""

    def cell(value: Any) -> str:
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        return text if len(text) <= 60 else text[:57] + "..."

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    click.echo(line, file=out)
    click.echo("  ".join("-" * w for w in widths), file=out)
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)), file=out)
    if not rows:
        click.echo("(no rows)", file=out or sys.stdout)
