"""What `cvat-lite serve` prints about the first login: the generated password while it works,
never a password that was changed since."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from cvat_lite.engine.management.commands.serve import Command

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_first_login_is_generated_once_and_printed_while_it_works(data_dir):
    first = Command()._first_user()
    name, password = (data_dir / "first-login.txt").read_text().split()
    assert first == f"Login: {name} / {password}  (stored in {data_dir / 'first-login.txt'})"
    assert Command()._first_user() == first  # the next start prints the same
    assert get_user_model().objects.count() == 1


def test_a_changed_password_is_never_printed(data_dir):
    Command()._first_user()
    name, password = (data_dir / "first-login.txt").read_text().split()
    user = get_user_model().objects.get(username=name)
    user.set_password("changed-by-its-owner-99")
    user.save()

    message = Command()._first_user()
    assert password not in message
    assert "was changed" in message and f"cvat-lite changepassword {name}" in message
    assert not (data_dir / "first-login.txt").exists()
    assert "Log in with an existing account" in Command()._first_user()
