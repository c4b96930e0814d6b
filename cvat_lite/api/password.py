"""``POST /api/auth/password/change``: the signed-in user changes their password, with CVAT
2.80's route and body (``old_password``, ``new_password1``, ``new_password2``) so that
``cvat-sdk``'s ``auth_api.create_password_change`` works. The session that made the change stays
signed in; the user's other sessions end. An administrator resets anyone's password with
``cvat-lite changepassword <username>`` (Django's command).
"""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from django.urls import re_path
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cvat_lite.api.auth import RestAuthDetailSerializer
from cvat_lite.api.schema import error_responses
from cvat_lite.engine.services import accounts

PASSWORD_CHANGED = "New password has been saved."


class PasswordChangeSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, style={"input_type": "password"})
    new_password1 = serializers.CharField(max_length=128, style={"input_type": "password"})
    new_password2 = serializers.CharField(max_length=128, style={"input_type": "password"})


class PasswordChangeView(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        operation_id="auth_create_password_change",
        summary="Change the signed-in user's password",
        request=PasswordChangeSerializer,
        responses={200: RestAuthDetailSerializer, **error_responses(400, 401)},
    )
    def post(self, request: Request) -> Response:
        serializer = PasswordChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        accounts.password_change(user=request.user, **serializer.validated_data)
        if request.session.session_key:  # a browser session: keep it signed in
            update_session_auth_hash(request._request, request.user)
        return Response(RestAuthDetailSerializer({"detail": PASSWORD_CHANGED}).data)


urlpatterns = [re_path(r"^auth/password/change/?$", PasswordChangeView.as_view())]
