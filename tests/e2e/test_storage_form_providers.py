"""The Cloud storages form for the other providers and credential kinds: an Azure container by
connection string and by account name + SAS token, a GCS bucket anonymously. Each is created
through the form (the API checks the bucket) and shows AVAILABLE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from playwright.sync_api import Page, expect

from tests.e2e.helpers import ApiSession, open_page
from tests.fixtures.emulators import AZURITE_ACCOUNT, AZURITE_KEY


def _fill(page: Page, name: str, provider: str, resource: str, credentials: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Provider").select_option(provider)
    page.get_by_label("Bucket / container").fill(resource)
    page.get_by_label("Credentials", exact=True).select_option(credentials)


def _added(page: Page, name: str) -> None:
    page.get_by_role("button", name="Add storage").click()
    row = page.locator("#storages-table tbody tr", has_text=name)
    expect(row.locator("[data-status]")).to_have_text("AVAILABLE")
    expect(page.locator("#storage-form-error")).to_be_hidden()


def test_azure_and_gcs_storages_from_the_form(page: Page, web: ApiSession, azurite, gcs_emulator):
    container = azurite.create_bucket().resource
    gcs_bucket = gcs_emulator.create_bucket().resource
    open_page(page, web, "/cloudstorages")

    _fill(page, "azure by string", "AZURE_CONTAINER", container, "CONNECTION_STRING")
    page.get_by_label("Connection string").fill(azurite.connection_string)
    _added(page, "azure by string")

    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        container,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    _fill(page, "azure by sas", "AZURE_CONTAINER", container, "ACCOUNT_NAME_TOKEN_PAIR")
    page.get_by_label("Account name").fill(AZURITE_ACCOUNT)
    page.get_by_label("SAS token").fill(sas)
    page.get_by_label("Endpoint URL").fill(azurite.endpoint_url)
    _added(page, "azure by sas")

    _fill(page, "gcs anonymous", "GOOGLE_CLOUD_STORAGE", gcs_bucket, "ANONYMOUS_ACCESS")
    page.get_by_label("Endpoint URL").fill(gcs_emulator.endpoint_url)
    page.get_by_label("Project").fill("test-project")
    _added(page, "gcs anonymous")

    stored = {s["display_name"]: s for s in web.call("GET", "/api/cloudstorages", 200)["results"]}
    assert stored["azure by string"]["credentials_type"] == "CONNECTION_STRING"
    assert stored["azure by sas"]["credentials_type"] == "ACCOUNT_NAME_TOKEN_PAIR"
    assert stored["gcs anonymous"]["provider_type"] == "GOOGLE_CLOUD_STORAGE"
    assert "project=test-project" in stored["gcs anonymous"]["specific_attributes"]
