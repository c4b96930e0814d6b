"""``Authorization: Bearer <personal access token>`` (contract 3).

A read-only token is refused on unsafe methods here, in authentication, so that the rule holds
for every DRF view whatever its permission classes.
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions
from rest_framework.permissions import SAFE_METHODS

from cvat_lite import errors
from cvat_lite.engine.models import AccessToken
from cvat_lite.engine.services.accounts import token_digest

__all__ = ["READ_ONLY_TOKEN", "AccessTokenAuthentication", "token_digest"]

READ_ONLY_TOKEN = "This access token is read-only."


class AccessTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid bearer header.")
        try:
            value = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid bearer header.") from None
        token = (
            AccessToken.objects.select_related("owner").filter(digest=token_digest(value)).first()
        )
        now = timezone.now()
        if token is None or (token.expiry_date and token.expiry_date <= now):
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        if not token.owner.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        if token.read_only and request.method not in SAFE_METHODS:
            raise errors.PermissionDenied(READ_ONLY_TOKEN, code="read_only_token")
        AccessToken.objects.filter(pk=token.pk).update(last_used_date=now)
        return token.owner, token

    def authenticate_header(self, request):
        return self.keyword


class AccessTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes ``Authorization: Bearer`` in the OpenAPI schema (CVAT's ``accessTokenAuth``)."""

    target_class = AccessTokenAuthentication
    name = "accessTokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=AccessTokenAuthentication.keyword
        )
