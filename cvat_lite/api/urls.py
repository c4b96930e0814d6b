"""All API routes. Each resource module owns its ``urlpatterns``; paths accept both trailing-slash
spellings (contract 10)."""

from cvat_lite.api import (
    annotations,
    auth,
    backup_import,
    backup_policies,
    backups,
    cloudstorages,
    jobs,
    labels,
    password,
    project_relink,
    projects,
    requests,
    server,
    task_data,
    tasks,
)

urlpatterns = [
    *server.urlpatterns,
    *auth.urlpatterns,
    *password.urlpatterns,
    *cloudstorages.urlpatterns,
    *projects.urlpatterns,
    *project_relink.urlpatterns,
    *tasks.urlpatterns,
    *task_data.urlpatterns,
    *jobs.urlpatterns,
    *labels.urlpatterns,
    *annotations.urlpatterns,
    *requests.urlpatterns,
    *backups.urlpatterns,
    *backup_import.urlpatterns,
    *backup_policies.urlpatterns,
]
