from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from cvat_lite.api.admin_login import admin_login
from cvat_lite.api.docs import RedocDocsView, SwaggerDocsView

urlpatterns = [
    path("admin/login/", admin_login),  # the admin's login, throttled like the API's
    path("admin/", admin.site.urls),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/schema/", SpectacularAPIView.as_view()),
    # The reference pages work offline (cvat_lite/api/docs.py).
    path("api/docs", SwaggerDocsView.as_view(url_name="schema"), name="swagger"),
    path("api/docs/", SwaggerDocsView.as_view(url_name="schema")),
    path("api/redoc", RedocDocsView.as_view(url_name="schema"), name="redoc"),
    path("api/redoc/", RedocDocsView.as_view(url_name="schema")),
    path("api/", include("cvat_lite.api.urls")),
    # The web UI (README): pages outside api/ that use the API like any other client.
    path("", include("cvat_lite.web.urls")),
]

# Errors outside DRF views get the API's error body too (contract 8).
handler404 = "cvat_lite.web.views.not_found"  # a page for browsers, the API's body otherwise
handler500 = "cvat_lite.api.exception_handler.server_error_view"
