"""Accounts: password login, registration, API tokens and personal access tokens (contract 3).

Session handling (``django.contrib.auth.login`` / ``logout``) belongs to the HTTP edge; these
functions only decide who the user is and manage the credentials stored in the database.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.authtoken.models import Token

from cvat_lite import errors
from cvat_lite.engine.models import AccessToken

INVALID_CREDENTIALS = "Unable to log in with provided credentials."
LOGIN_FIELDS_MISSING = 'Must include "username" or "email", and "password".'
PASSWORD_MISMATCH = "The two password fields didn't match."
WEAK_PASSWORD = "The password is too weak."
USERNAME_TAKEN = "A user with that username already exists."
EMAIL_TAKEN = "A user is already registered with this e-mail address."
REGISTRATION_DISABLED = "Registration is disabled on this server."
EXPIRY_IN_PAST = "The expiry date must be in the future."
TOKEN_LIMIT_REACHED = (
    "You have reached the maximum allowed number of Personal Access Tokens for a user."
)

ACCESS_TOKEN_PREFIX = "cvl_"
"""Every personal access token starts with this, so leaked ones are easy to recognise."""
_STORED_PREFIX_LENGTH = len(ACCESS_TOKEN_PREFIX) + 8


def token_digest(value: str) -> str:
    """How a personal access token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(value.encode()).hexdigest()


# --- password login and the API token --------------------------------------------------------


def user_login(*, username: str | None, email: str | None, password: str) -> tuple[User, str]:
    """The active user with these credentials and its API token key; else BadRequest.

    The user is found by username or by e-mail; a ``username`` that holds an e-mail address is
    also tried as one (CVAT's sign-in form has a single "email or username" field).
    """
    if not (username or email):
        raise errors.BadRequest(LOGIN_FIELDS_MISSING, code="invalid")
    candidates: list[str] = []
    if username:
        candidates.append(username)
    lookup = email or (username if username and "@" in username else None)
    if lookup:
        matches = list(
            get_user_model().objects.filter(email__iexact=lookup).values_list("username", flat=True)
        )
        if len(matches) == 1:  # an ambiguous e-mail never logs anybody in
            candidates.append(matches[0])
    for candidate in dict.fromkeys(candidates):
        user = authenticate(username=candidate, password=password)
        if user is not None:
            return user, auth_token_issue(user=user)
    raise errors.BadRequest(INVALID_CREDENTIALS, code="invalid_credentials")


def auth_token_issue(*, user: User) -> str:
    """The user's API token (``Authorization: Token <key>``), created on first use."""
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def auth_token_revoke(*, user: User) -> None:
    Token.objects.filter(user=user).delete()


# --- registration ------------------------------------------------------------------------------


def registration_ensure_enabled() -> None:
    if not settings.REGISTRATION_ENABLED:
        raise errors.PermissionDenied(REGISTRATION_DISABLED, code="registration_disabled")


@transaction.atomic
def user_register(
    *,
    username: str,
    email: str,
    password1: str,
    password2: str,
    first_name: str = "",
    last_name: str = "",
) -> tuple[User, str]:
    """Create an ordinary user (no staff or superuser rights) and its API token key.

    Refused when registration is disabled (``settings.REGISTRATION_ENABLED``), the passwords
    differ or are weak, or the username or e-mail is taken (both compared case-insensitively).
    """
    registration_ensure_enabled()
    if password1 != password2:
        raise _field_error("password2", PASSWORD_MISMATCH, code="password_mismatch")
    model = get_user_model()
    if model.objects.filter(username__iexact=username).exists():
        raise _field_error("username", USERNAME_TAKEN, code="username_taken")
    if email and model.objects.filter(email__iexact=email).exists():
        raise _field_error("email", EMAIL_TAKEN, code="email_taken")
    candidate = model(username=username, email=email, first_name=first_name, last_name=last_name)
    try:
        validate_password(password1, user=candidate)
    except DjangoValidationError as exc:
        raise errors.BadRequest(
            WEAK_PASSWORD, code="weak_password", extra={"fields": {"password1": exc.messages}}
        ) from None
    candidate.set_password(password1)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:  # lost a race with another registration of the same username
        raise _field_error("username", USERNAME_TAKEN, code="username_taken") from None
    return candidate, auth_token_issue(user=candidate)


WRONG_PASSWORD = "Your old password was entered incorrectly. Please enter it again."


def password_change(
    *, user: User, old_password: str, new_password1: str, new_password2: str
) -> None:
    """Set ``user``'s password after checking the current one, as CVAT's
    ``POST /api/auth/password/change`` does. The caller keeps its session (see the view); the
    user's other sessions end (Django ties a session to the password hash); API tokens stay,
    as in CVAT. ``first-login.txt`` of ``cvat-lite serve`` stops being printed (serve checks)."""
    if not user.check_password(old_password):
        raise _field_error("old_password", WRONG_PASSWORD, code="wrong_password")
    if new_password1 != new_password2:
        raise _field_error("new_password2", PASSWORD_MISMATCH, code="password_mismatch")
    try:
        validate_password(new_password1, user=user)
    except DjangoValidationError as exc:
        raise errors.BadRequest(
            WEAK_PASSWORD, code="weak_password", extra={"fields": {"new_password1": exc.messages}}
        ) from None
    user.set_password(new_password1)
    user.save(update_fields=["password"])


def _field_error(field: str, message: str, *, code: str) -> errors.BadRequest:
    return errors.BadRequest(message, code=code, extra={"fields": {field: [message]}})


# --- personal access tokens --------------------------------------------------------------------


def access_tokens_of(*, user: User) -> QuerySet[AccessToken]:
    """The user's usable (not expired) tokens. Tokens are private: not even a superuser sees
    another user's."""
    now = timezone.now()
    return (
        AccessToken.objects.filter(owner=user)
        .filter(Q(expiry_date__isnull=True) | Q(expiry_date__gt=now))
        .select_related("owner")
    )


def access_token_get(*, user: User, pk: int) -> AccessToken:
    token = access_tokens_of(user=user).filter(pk=pk).first()
    if token is None:
        raise errors.NotFound()
    return token


def access_token_create(
    *,
    owner: User,
    name: str,
    expiry_date: datetime | None = None,
    read_only: bool = True,
) -> tuple[AccessToken, str]:
    """A new token and its value. The value is returned only here; the database keeps its
    SHA-256 digest and a short prefix for recognising it."""
    _check_expiry(expiry_date)
    limit = settings.MAX_ACCESS_TOKENS_PER_USER
    if 0 <= limit <= access_tokens_of(user=owner).count():
        raise errors.BadRequest(TOKEN_LIMIT_REACHED, code="access_token_limit")
    value = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        owner=owner,
        name=name,
        digest=token_digest(value),
        prefix=value[:_STORED_PREFIX_LENGTH],
        expiry_date=expiry_date,
        read_only=read_only,
    )
    return token, value


_UNSET: object = object()


def access_token_update(
    *,
    token: AccessToken,
    name: str | None = None,
    expiry_date: datetime | object | None = _UNSET,
    read_only: bool | None = None,
) -> AccessToken:
    """Rename a token, change its expiry (``None``: never expires) or its read-only flag."""
    if name is not None:
        token.name = name
    if expiry_date is None or isinstance(expiry_date, datetime):
        _check_expiry(expiry_date)
        token.expiry_date = expiry_date
    if read_only is not None:
        token.read_only = read_only
    token.save()
    return token


def access_token_delete(*, token: AccessToken) -> None:
    token.delete()


def _check_expiry(expiry_date: datetime | None) -> None:
    if expiry_date is not None and expiry_date <= timezone.now():
        raise _field_error("expiry_date", EXPIRY_IN_PAST, code="invalid_expiry_date")
