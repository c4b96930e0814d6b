"""For tests that start `cvat-lite` as a separate process on embedded defaults."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

CVAT_LITE = str(Path(sys.executable).parent / "cvat-lite")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(**extra: str) -> dict[str, str]:
    """This environment without any CVAT_LITE_* setting (SQLite, an embedded Redis), plus
    ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVAT_LITE_")}
    return {**env, **extra}
