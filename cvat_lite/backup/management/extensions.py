"""Sub-commands that apps above ``backup`` add to ``cvat-lite backup``.

The backup app cannot import them (imports go down the layers, tests/test_layers.py): an app of
a higher layer registers its sub-command here from its ``AppConfig.ready`` (the policies app
adds ``policies``). A sub-command is a module, or any object, with ``add_arguments(actions)``
(``actions``: the command's sub-parsers) and ``handle(command, **options) -> int`` (the exit
status); it is registered as a function returning it, so that it is imported only when the
``backup`` command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Subcommand(Protocol):
    def add_arguments(self, actions: Any) -> None: ...

    def handle(self, command: Any, **options: Any) -> int: ...


SUBCOMMANDS: dict[str, Callable[[], Subcommand]] = {}


def subcommand_register(name: str, load: Callable[[], Subcommand]) -> None:
    SUBCOMMANDS[name] = load
