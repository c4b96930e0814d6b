"""The ``cvat-lite`` console script: Django's management entry point with the project settings.

``cvat-lite``, ``cvat-lite help`` and ``cvat-lite --help`` list this project's own commands
first, each with its one-line help, then Django's (still available, e.g. ``changepassword``).
"""

from __future__ import annotations

import os
import sys
import textwrap

HELP_FLAGS: tuple[list[str], ...] = ([], ["help"], ["--help"], ["-h"])


def project_commands() -> dict[str, str]:
    """``{command name: one-line help}`` of the commands defined by cvat_lite's own apps."""
    from django.core.management import get_commands, load_command_class

    found = {}
    for name, app in sorted(get_commands().items()):
        if app.startswith("cvat_lite"):
            help_text = load_command_class(app, name).help.strip()
            found[name] = help_text.splitlines()[0] if help_text else ""
    return found


def main_help() -> str:
    from django.core.management import get_commands

    ours = project_commands()
    width = max(map(len, ours)) + 2
    lines = ["Usage: cvat-lite <command> [options]", "", "cvat_lite's commands:"]
    lines += [f"  {name.ljust(width)}{text}" for name, text in ours.items()]
    others = ", ".join(sorted(name for name in get_commands() if name not in ours))
    lines += ["", "Django's commands (also available):"]
    lines += textwrap.wrap(others, width=96, initial_indent="  ", subsequent_indent="  ")
    lines += [
        "",
        "Type 'cvat-lite help <command>' (or 'cvat-lite <command> --help') for its options.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cvat_lite.settings")
    from django.core.management import execute_from_command_line

    argv = list(sys.argv if argv is None else argv)
    argv[0] = "cvat-lite"
    if argv[1:] in HELP_FLAGS:
        import django

        django.setup()
        sys.stdout.write(main_help())
        return 0
    execute_from_command_line(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
