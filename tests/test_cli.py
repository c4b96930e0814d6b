"""``cvat-lite --help`` starts with the project's commands, and every option of every project
command (and of its subcommands) says what it does."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys

import pytest
from django.core.management import get_commands, load_command_class

from cvat_lite import cli

PROJECT_COMMANDS = sorted(
    name for name, app in get_commands().items() if app.startswith("cvat_lite")
)


def test_help_lists_project_commands_first_with_their_help():
    out = subprocess.run(
        [sys.executable, "-m", "cvat_lite.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ours, _, django_part = out.partition("Django's commands")
    assert django_part, out
    for name in PROJECT_COMMANDS:
        line = next(line for line in ours.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 10, line  # a real sentence, not a blank
        assert name not in re.split(r"[\s,]+", django_part)
    assert "migrate" in re.split(r"[\s,]+", django_part) and "migrate" not in ours
    assert PROJECT_COMMANDS and set(PROJECT_COMMANDS) >= {"backup", "serve"}


@pytest.mark.parametrize("argv", [["--help"], ["help"], []])
def test_every_help_spelling_shows_the_project_listing(argv, capsys):
    assert cli.main(["cvat-lite", *argv]) == 0
    assert capsys.readouterr().out.startswith("Usage: cvat-lite <command>")


def _actions(parser: argparse.ArgumentParser, path: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


@pytest.mark.parametrize("name", PROJECT_COMMANDS)
def test_every_option_has_help(name):
    command = load_command_class(get_commands()[name], name)
    parser = command.create_parser("cvat-lite", name)
    missing = [
        f"{path}: {action.option_strings or action.dest}"
        for path, action in _actions(parser, name)
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS
    ]
    assert missing == [], f"options without help text: {missing}"


def test_a_malformed_endpoint_allowlist_stops_the_service_at_startup():
    env = {**os.environ, "CVAT_LITE_CLOUD_ENDPOINT_ALLOWLIST": "127.0.0.1:*,minio.internal"}
    result = subprocess.run(
        [sys.executable, "-m", "cvat_lite.cli", "check"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode != 0
    assert "CVAT_LITE_CLOUD_ENDPOINT_ALLOWLIST" in result.stderr
    assert "'minio.internal'" in result.stderr
