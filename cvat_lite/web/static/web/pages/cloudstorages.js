// Cloud storages: list with status (AVAILABLE / NOT_FOUND / FORBIDDEN, refreshable), add one.
import { ApiError, api, listAll } from "../api.js";
import { $, PROVIDERS, done, emptyRow, h, ownerColumn, requireUser, showError } from "../ui.js";

let user;

const CREDENTIALS = {
  AWS_S3_BUCKET: [["KEY_SECRET_KEY_PAIR", "Access key and secret"], ["ANONYMOUS_ACCESS", "Anonymous (public bucket)"]],
  AZURE_CONTAINER: [["CONNECTION_STRING", "Connection string"], ["ACCOUNT_NAME_TOKEN_PAIR", "Account name and SAS token"], ["ANONYMOUS_ACCESS", "Anonymous (public container)"]],
  GOOGLE_CLOUD_STORAGE: [["KEY_FILE_PATH", "Service-account key file"], ["ANONYMOUS_ACCESS", "Anonymous (public bucket)"]],
};
const STATUS_CLASS = { AVAILABLE: "ok", NOT_FOUND: "warn", FORBIDDEN: "bad" };

async function checkStatus(row) {
  const cell = $(".status-cell", row);
  cell.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), " Checking…");
  cell.setAttribute("aria-busy", "true");
  try {
    const status = await api(`/api/cloudstorages/${row.dataset.storageId}/status`);
    cell.replaceChildren(h("span", { class: `badge ${STATUS_CLASS[status] || ""}`, "data-status": status }, status));
  } catch (err) {
    cell.replaceChildren(h("span", { class: "error" }, err.message));
  } finally {
    cell.setAttribute("aria-busy", "false");
  }
}

function storageRow(storage) {
  const row = h("tr", { "data-storage-id": storage.id },
    h("td", {}, storage.id),
    h("td", {}, storage.display_name),
    h("td", {}, PROVIDERS[storage.provider_type] || storage.provider_type),
    h("td", { class: "wrap" }, storage.resource),
    h("td", { class: "status-cell", "aria-live": "polite" }),
    h("td", { class: "actions" }, h("button", {
      type: "button",
      class: "small",
      "aria-label": `Refresh status of ${storage.display_name}`,
      onclick: () => checkStatus(row),
    }, "Refresh")));
  return row;
}

async function load() {
  const storages = await listAll("/api/cloudstorages");
  const table = $("#storages-table");
  const withOwner = ownerColumn(table, user, 2);
  const rows = storages.map((storage) => (withOwner ? withOwner(storageRow(storage), storage.owner) : storageRow(storage)));
  $("tbody", table).replaceChildren(...(rows.length ? rows : [emptyRow(table, "No cloud storages yet: add one below.", { class: "empty" })]));
  await Promise.all(rows.map(checkStatus));
}

// The form shows the credential fields of the chosen provider and credentials type only.
function syncForm() {
  const provider = $("#s-provider").value;
  const typeSelect = $("#s-credentials-type");
  const previous = typeSelect.value;
  typeSelect.replaceChildren(...CREDENTIALS[provider].map(([value, label]) => h("option", { value }, label)));
  if (CREDENTIALS[provider].some(([value]) => value === previous)) typeSelect.value = previous;
  syncCredentials();
}

function syncCredentials() {
  const provider = $("#s-provider").value;
  const type = $("#s-credentials-type").value;
  for (const el of document.querySelectorAll("#storage-form [data-for]")) el.hidden = el.dataset.for !== type;
  for (const el of document.querySelectorAll("#storage-form [data-provider]")) el.hidden = el.dataset.provider !== provider;
}

function specificAttributes(form) {
  const params = new URLSearchParams();
  const provider = form.elements.namedItem("provider_type").value;
  for (const name of ["endpoint_url", "region", "project", "prefix"]) {
    const input = form.elements.namedItem(name);
    if (input.hidden || (input.dataset.provider && input.dataset.provider !== provider)) continue;
    if (input.value.trim()) params.set(name, input.value.trim());
  }
  return params.toString();
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const error = $("#storage-form-error");
  error.hidden = true;
  const type = form.elements.namedItem("credentials_type").value;
  const fields = {
    provider_type: form.elements.namedItem("provider_type").value,
    resource: form.elements.namedItem("resource").value.trim(),
    display_name: form.elements.namedItem("display_name").value.trim(),
    credentials_type: type,
    specific_attributes: specificAttributes(form),
  };
  for (const input of form.querySelectorAll(`[data-for="${type}"]`)) {
    if (input.tagName === "INPUT" && input.type !== "file") fields[input.name] = input.value;
  }
  const button = $("#storage-submit");
  button.disabled = true;
  button.textContent = "Checking the bucket…";
  try {
    let created;
    if (type === "KEY_FILE_PATH") {
      const data = new FormData();
      for (const [name, value] of Object.entries(fields)) data.append(name, value);
      const keyFile = form.elements.namedItem("key_file").files[0];
      if (keyFile) data.append("key_file", keyFile);
      created = await api("/api/cloudstorages", { method: "POST", form: data });
    } else {
      created = await api("/api/cloudstorages", { method: "POST", json: fields });
    }
    form.reset();
    syncForm();
    const body = $("#storages-table tbody");
    $("tr.empty", body)?.remove();
    const row = storageRow(created);
    body.append(row);
    await checkStatus(row);
  } catch (err) {
    const details = err instanceof ApiError && err.extra.fields
      ? Object.entries(err.extra.fields).map(([name, problems]) => `${name}: ${[].concat(problems).join(" ")}`)
      : [];
    if (err instanceof ApiError && err.extra.status) details.push(`Status: ${err.extra.status}`);
    error.replaceChildren(err.message, ...details.map((line) => h("span", { class: "detail" }, line)));
    error.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = "Add storage";
  }
}

async function main() {
  $("#s-provider").addEventListener("change", syncForm);
  $("#s-credentials-type").addEventListener("change", syncCredentials);
  $("#storage-form").addEventListener("submit", submit);
  $("#refresh-all").addEventListener("click", () => Promise.all([...document.querySelectorAll("#storages-table tbody tr[data-storage-id]")].map(checkStatus)));
  syncForm();
  $("#storage-submit").disabled = false;
  user = await requireUser();
  await load();
}

main().catch((err) => showError($("#load-error"), err)).finally(done);
