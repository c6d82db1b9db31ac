"""Route each request to its moto backend without listing moto's package directory.

moto 5.2.5's server (``DomainDispatcherApplication.get_backend_for_host``) asks
``moto.backends.list_of_moto_modules()`` on every request, which lists moto's package directory
and stats each of its ~150 entries (``os.listdir`` + ``os.path.isdir``): a few percent of the
local cloud's whole CPU under load, paid by every AWS call. The package does not change while
the process runs, so the list is read once and kept.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from moto import backends

_ORIGINAL = backends.list_of_moto_modules


@functools.cache
def _modules() -> tuple[str, ...]:
    return tuple(_ORIGINAL())


def _list_of_moto_modules() -> Iterable[str]:
    return _modules()


def install() -> None:
    backends.list_of_moto_modules = _list_of_moto_modules  # type: ignore[assignment]


def uninstall() -> None:
    backends.list_of_moto_modules = _ORIGINAL  # type: ignore[assignment]
