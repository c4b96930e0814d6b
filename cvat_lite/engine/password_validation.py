"""A password validator that Django's set lacks: the password must not contain the username or
the e-mail address (or its part before "@").

Django's ``UserAttributeSimilarityValidator`` compares whole strings by similarity ratio, so a
username written twice (``newcomernewcomer``) is only 67 % similar to it and passes. Containment
is what an attacker who knows the account name tries first.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

MSG_CONTAINS_ATTRIBUTE = "The password must not contain your {attribute}."
MIN_ATTRIBUTE_LENGTH = 3
"""Shorter values (a two-letter username) would refuse too many unrelated passwords."""


class UserAttributeContainmentValidator:
    def validate(self, password: str, user: Any = None) -> None:
        if user is None:
            return
        lowered = password.casefold()
        email = (getattr(user, "email", "") or "").casefold()
        candidates = {
            "username": (getattr(user, "username", "") or "").casefold(),
            "e-mail address": email,
            "e-mail name": email.partition("@")[0] if "@" in email else "",
        }
        for attribute, value in candidates.items():
            if len(value) >= MIN_ATTRIBUTE_LENGTH and value in lowered:
                raise ValidationError(
                    MSG_CONTAINS_ATTRIBUTE.format(attribute=attribute),
                    code="password_contains_user_attribute",
                )

    def get_help_text(self) -> str:
        return "Your password must not contain your username or e-mail address."
