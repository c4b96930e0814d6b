"""Authentication endpoints (contract 3), in CVAT 2.80's shapes.

- ``POST /api/auth/login`` → ``{key}`` and a Django session (``sessionid`` + ``csrftoken``).
- ``POST /api/auth/logout``, ``POST /api/auth/register``.
- ``/api/auth/access_tokens[/{id}|/self]``: personal access tokens (``Authorization: Bearer``).
- ``GET /api/users/self``: the current user.

Login and registration ignore any credentials sent with them (a stale token cannot block a
fresh login). They take JSON only and refuse requests a browser marks as coming from another
site (``SameOriginOnly``): an HTML form on another site can post urlencoded, multipart or
text/plain bodies to them without a CSRF token, and would log the victim's browser in as the
attacker (login CSRF). CVAT also accepts forms there; its SDK and CLI send JSON.

A client authenticated by a personal access token may read tokens but not create, change or
revoke them (as in CVAT).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login as django_login
from django.contrib.auth import logout as django_logout
from django.contrib.auth.models import User
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.urls import re_path
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import exceptions, generics, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite import errors
from cvat_lite.api.authentication import AccessTokenAuthentication
from cvat_lite.api.parsers import JSONParser
from cvat_lite.api.schema import error_responses
from cvat_lite.api.throttling import LoginThrottle, login_attempt_release
from cvat_lite.engine.models import AccessToken
from cvat_lite.engine.services import accounts

TOKEN_MANAGEMENT_FORBIDDEN = (
    "Personal access tokens cannot be created, changed or revoked by a client that is "
    "authenticated with a personal access token."
)
LOGGED_OUT = "Successfully logged out."
CROSS_SITE_REFUSED = "Requests from another site cannot log in or register."

# --- serializers -------------------------------------------------------------------------------


class BasicUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(max_length=150)
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False)


class UserSerializer(BasicUserSerializer):
    email = serializers.EmailField(max_length=254, required=False)
    groups = serializers.SerializerMethodField()
    is_staff = serializers.BooleanField(required=False)
    is_superuser = serializers.BooleanField(required=False)
    is_active = serializers.BooleanField(required=False)
    last_login = serializers.DateTimeField(read_only=True, allow_null=True)
    date_joined = serializers.DateTimeField(read_only=True)
    has_analytics_access = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_groups(self, user: User) -> list[str]:
        # CVAT's privilege groups: cvat_lite knows two, from the superuser flag.
        return ["admin"] if user.is_superuser else ["user"]

    def get_has_analytics_access(self, user: User) -> bool:
        return False


class LoginSerializerEx(serializers.Serializer):
    username = serializers.CharField(required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    password = serializers.CharField(write_only=True, style={"input_type": "password"})


class TokenSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=40)


class RestAuthDetailSerializer(serializers.Serializer):
    detail = serializers.CharField(read_only=True)


class RegisterSerializerEx(serializers.Serializer):
    username = serializers.CharField(
        min_length=5, max_length=150, validators=[UnicodeUsernameValidator()]
    )
    email = serializers.EmailField(max_length=254)
    password1 = serializers.CharField(write_only=True, min_length=8, max_length=256)
    password2 = serializers.CharField(write_only=True, min_length=8, max_length=256)
    first_name = serializers.CharField(max_length=150, required=False)
    last_name = serializers.CharField(max_length=150, required=False)
    email_verification_required = serializers.BooleanField(read_only=True)
    key = serializers.CharField(read_only=True, allow_null=True)


class AccessTokenReadSerializer(serializers.ModelSerializer):
    owner = BasicUserSerializer(read_only=True)
    # Not read_only, so that the schema does not list it as always present: it is, once.
    value = serializers.CharField(
        required=False, help_text="The token itself: shown once, in the answer to its creation."
    )

    class Meta:
        model = AccessToken
        fields = (
            "id",
            "name",
            "created_date",
            "updated_date",
            "expiry_date",
            "last_used_date",
            "read_only",
            "owner",
            "value",
        )
        read_only_fields = fields


class AccessTokenWriteSerializer(serializers.Serializer):
    name = serializers.CharField(min_length=1, max_length=50)
    expiry_date = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Never expires when absent or null."
    )
    read_only = serializers.BooleanField(
        required=False, help_text="Allow safe (read) requests only. Default: true, as in CVAT."
    )


# --- permissions -------------------------------------------------------------------------------


class NotWithAccessToken(permissions.BasePermission):
    """Unsafe requests on tokens must come from a password login (session or API token)."""

    def has_permission(self, request, view) -> bool:
        if request.method not in permissions.SAFE_METHODS and isinstance(request.auth, AccessToken):
            raise errors.PermissionDenied(TOKEN_MANAGEMENT_FORBIDDEN, code="access_token_forbidden")
        return True


class SameOriginOnly(permissions.BasePermission):
    """Refuse what a browser says comes from another site: ``Sec-Fetch-Site`` other than
    ``same-origin`` or ``none`` (typed in, a bookmark), or an ``Origin`` that is not this
    server's. Clients that are not browsers (the SDK, the CLI, curl) send neither header."""

    def has_permission(self, request, view) -> bool:
        fetch_site = request.headers.get("Sec-Fetch-Site")
        origin = request.headers.get("Origin")
        own_origin = f"{request.scheme}://{request.get_host()}"
        if (fetch_site is not None and fetch_site not in {"same-origin", "none"}) or (
            origin is not None and origin != own_origin and origin not in _trusted_origins()
        ):
            raise errors.PermissionDenied(CROSS_SITE_REFUSED, code="cross_site_refused")
        return True


def _trusted_origins() -> set[str]:
    return set(settings.CSRF_TRUSTED_ORIGINS)


_TOKEN_PERMISSIONS = [permissions.IsAuthenticated, NotWithAccessToken]
_CREDENTIAL_PERMISSIONS = [permissions.AllowAny, SameOriginOnly]

# --- views -------------------------------------------------------------------------------------


class LoginView(APIView):
    authentication_classes: list = []
    permission_classes = _CREDENTIAL_PERMISSIONS
    parser_classes = [JSONParser]
    throttle_classes = [LoginThrottle]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_create_login",
        summary="Log in: returns an API token and starts a session",
        request=LoginSerializerEx,
        responses={200: TokenSerializer, **error_responses(400, 403, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(LoginSerializerEx, request)
        user, key = accounts.user_login(
            username=data.get("username"), email=data.get("email"), password=data["password"]
        )
        login_attempt_release(request.login_attempt)  # type: ignore[attr-defined]
        django_login(request._request, user)
        return Response(TokenSerializer({"key": key}).data)


class LogoutView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_create_logout",
        summary="Log out: ends the session and revokes the API token",
        request=None,
        # 401: a token that is not (or no longer) valid, e.g. after an earlier logout.
        responses={200: RestAuthDetailSerializer, **error_responses(401, 403)},
    )
    def post(self, request: Request) -> Response:
        if request.user.is_authenticated:
            accounts.auth_token_revoke(user=request.user)
        django_logout(request._request)
        return Response(RestAuthDetailSerializer({"detail": LOGGED_OUT}).data)


class RegisterView(APIView):
    authentication_classes: list = []
    permission_classes = _CREDENTIAL_PERMISSIONS
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_create_register",
        summary="Create a user account (when registration is enabled)",
        request=RegisterSerializerEx,
        responses={201: RegisterSerializerEx, **error_responses(400, 403, 415)},
    )
    def post(self, request: Request) -> Response:
        accounts.registration_ensure_enabled()
        data = _valid(RegisterSerializerEx, request)
        user, key = accounts.user_register(**data)
        django_login(request._request, user, backend="django.contrib.auth.backends.ModelBackend")
        body: dict[str, object] = {"email_verification_required": False, "key": key}
        body.update((f, getattr(user, f)) for f in ("username", "email", "first_name", "last_name"))
        return Response(RegisterSerializerEx(body).data, status=status.HTTP_201_CREATED)


class AccessTokensView(generics.GenericAPIView):
    permission_classes = _TOKEN_PERMISSIONS
    serializer_class = AccessTokenReadSerializer
    queryset = AccessToken.objects.none()  # for the schema; the data come from the service

    @extend_schema(
        tags=["auth"],
        operation_id="auth_list_access_tokens",
        summary="List your personal access tokens (values are never shown again)",
        responses={
            200: AccessTokenReadSerializer(many=True),
            # 400: a query value that cannot be stored; 404: a page past the last
            **error_responses(400, 401, 404),
        },
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(accounts.access_tokens_of(user=request.user))
        return self.get_paginated_response(AccessTokenReadSerializer(page, many=True).data)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_create_access_tokens",
        summary="Create a personal access token; its value is in the answer, once",
        request=AccessTokenWriteSerializer,
        responses={201: AccessTokenReadSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        data = _valid(AccessTokenWriteSerializer, request)
        token, value = accounts.access_token_create(owner=request.user, **data)
        token.value = value  # type: ignore[attr-defined]
        return Response(AccessTokenReadSerializer(token).data, status=status.HTTP_201_CREATED)


class AccessTokenSelfView(APIView):
    authentication_classes = [AccessTokenAuthentication]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_retrieve_access_tokens_self",
        summary="Describe the personal access token that authenticates this request",
        description="Only a request authenticated with `Authorization: Bearer` gets a 200.",
        responses={200: AccessTokenReadSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        if not isinstance(request.auth, AccessToken):
            raise exceptions.NotAuthenticated()  # DRF names the Bearer scheme in the 401
        return Response(AccessTokenReadSerializer(request.auth).data)


@extend_schema(parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH)])
class AccessTokenDetailView(APIView):
    permission_classes = _TOKEN_PERMISSIONS

    @extend_schema(
        tags=["auth"],
        operation_id="auth_retrieve_access_tokens",
        summary="Describe one of your personal access tokens",
        responses={200: AccessTokenReadSerializer, **error_responses(401, 404)},
    )
    def get(self, request: Request, pk: str) -> Response:
        token = accounts.access_token_get(user=request.user, pk=int(pk))
        return Response(AccessTokenReadSerializer(token).data)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_partial_update_access_tokens",
        summary="Rename a token, or change its expiry date or read-only flag",
        request=AccessTokenWriteSerializer(partial=True),
        responses={200: AccessTokenReadSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, pk: str) -> Response:
        token = accounts.access_token_get(user=request.user, pk=int(pk))
        data = _valid(AccessTokenWriteSerializer, request, partial=True)
        token = accounts.access_token_update(token=token, **data)
        return Response(AccessTokenReadSerializer(token).data)

    @extend_schema(
        tags=["auth"],
        operation_id="auth_destroy_access_tokens",
        summary="Revoke a personal access token",
        responses={
            204: OpenApiResponse(description="The token was revoked"),
            **error_responses(401, 403, 404),
        },
    )
    def delete(self, request: Request, pk: str) -> Response:
        token = accounts.access_token_get(user=request.user, pk=int(pk))
        accounts.access_token_delete(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UserSelfView(APIView):
    @extend_schema(
        tags=["users"],
        operation_id="users_retrieve_self",
        summary="Describe the authenticated user",
        responses={200: UserSerializer, **error_responses(401)},
    )
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


def _valid(serializer_class: type[serializers.Serializer], request: Request, **kwargs) -> dict:
    serializer = serializer_class(data=request.data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


urlpatterns = [
    re_path(r"^auth/login/?$", LoginView.as_view()),
    re_path(r"^auth/logout/?$", LogoutView.as_view()),
    re_path(r"^auth/register/?$", RegisterView.as_view()),
    re_path(r"^auth/access_tokens/?$", AccessTokensView.as_view()),
    re_path(r"^auth/access_tokens/self/?$", AccessTokenSelfView.as_view()),
    re_path(r"^auth/access_tokens/(?P<pk>\d+)/?$", AccessTokenDetailView.as_view()),
    re_path(r"^users/self/?$", UserSelfView.as_view()),
]
