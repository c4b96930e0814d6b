// Small DOM helpers shared by the pages.
import { ApiError, api, listAll } from "./api.js";

// h("a", {href: "/", class: "x"}, "text", child) → an element. Attributes starting with "on"
// are listeners; false/null attributes are left out.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const $ = (selector, root = document) => root.querySelector(selector);

export function pageIds() {
  return JSON.parse($("#page-ids").textContent || "{}");
}

export function showError(el, error) {
  el.textContent = error instanceof Error ? error.message : String(error);
  el.hidden = false;
}

export function done() {
  $("#main").setAttribute("aria-busy", "false");
}

export function formatDate(value) {
  if (!value) return "";
  return new Date(value).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

// The logged-in user (or a redirect to /login); fills the header.
export async function requireUser() {
  const user = await api("/api/users/self");
  $("#whoami").textContent = user.username;
  const logout = $("#logout");
  logout.hidden = false;
  logout.addEventListener("click", async () => {
    await api("/api/auth/logout", { method: "POST", login: false });
    location.assign("/login");
  });
  return user;
}

export const PROVIDERS = {
  AWS_S3_BUCKET: "Amazon S3",
  AZURE_CONTAINER: "Azure Blob",
  GOOGLE_CLOUD_STORAGE: "Google Cloud Storage",
};

export async function storagesById() {
  const storages = await listAll("/api/cloudstorages");
  return new Map(storages.map((storage) => [storage.id, storage]));
}

// Where a task's media are, from the task (and its data meta when the task alone cannot
// tell: a null data_cloud_storage_id is local media, the share, or an unlinked cloud task).
// → {kind: "cloud" | "unlinked" | "local" | "share" | "none", storageId, meta}
export async function storageState(task) {
  if (task.data_cloud_storage_id !== null) {
    return { kind: "cloud", storageId: task.data_cloud_storage_id, meta: null };
  }
  if (task.data === null) return { kind: "none", storageId: null, meta: null };
  const meta = await api(`/api/tasks/${task.id}/data/meta`);
  return stateFromMeta(meta);
}

// The same for a list of tasks, without data/meta (it lists every frame: megabytes for a large
// task): a task without a cloud storage id has its media on the server (local or the share,
// told apart on the task's page) unless its preview answers 409 cloud_storage_unlinked.
// → {kind: "cloud" | "unlinked" | "server" | "none", storageId, meta: null}
export async function listStorageState(task) {
  if (task.data_cloud_storage_id !== null || task.data === null) return storageState(task);
  try {
    await api(`/api/tasks/${task.id}/preview`, { blob: true });
    return { kind: "server", storageId: null, meta: null };
  } catch (err) {
    if (err instanceof ApiError && err.code === "cloud_storage_unlinked") {
      return { kind: "unlinked", storageId: null, meta: null };
    }
    return storageState(task); // a preview that failed otherwise: ask the meta
  }
}

export function stateFromMeta(meta) {
  if (meta.storage === "cloud_storage") {
    const kind = meta.cloud_storage_id === null ? "unlinked" : "cloud";
    return { kind, storageId: meta.cloud_storage_id, meta };
  }
  return { kind: meta.storage === "share" ? "share" : "local", storageId: null, meta };
}

export function storageName(storage, id) {
  return storage ? storage.display_name : `storage ${id} (not visible to you)`;
}

// A badge for the storage state: "local", "on the server", "cloud · <name>", "not connected".
export function storageBadge(state, storages) {
  switch (state.kind) {
    case "cloud":
      return h("span", { class: "badge cloud", "data-state": "cloud" },
        `cloud · ${storageName(storages.get(state.storageId), state.storageId)}`);
    case "unlinked":
      return h("span", { class: "badge warn", "data-state": "unlinked" }, "not connected");
    case "share":
      return h("span", { class: "badge", "data-state": "share" }, "server share");
    case "local":
      return h("span", { class: "badge", "data-state": "local" }, "local");
    case "server":
      return h("span", { class: "badge", "data-state": "server" }, "on the server");
    default:
      return h("span", { class: "badge muted", "data-state": "none" }, "no data");
  }
}

export const isCloudBased = (state) => state.kind === "cloud" || state.kind === "unlinked";

// Superusers see everyone's objects, so their tables get an "Owner" column. Adds the header
// before column `index` of `table` and returns a function that adds the matching cell to a row
// (or null for other users: nothing changes).
export function ownerColumn(table, user, index) {
  if (!user.is_superuser) return null;
  const head = $("thead tr", table);
  if (!$(".owner-col", head)) head.insertBefore(h("th", { scope: "col", class: "owner-col" }, "Owner"), head.children[index] || null);
  return (row, owner) => {
    row.insertBefore(h("td", { class: "owner-cell" }, owner ? owner.username : "—"), row.children[index] || null);
    return row;
  };
}

// An empty table's one row, spanning every column.
export function emptyRow(table, text, attrs = {}) {
  const columns = table.querySelectorAll("thead th").length;
  return h("tr", attrs, h("td", { colspan: String(columns), class: "muted" }, text));
}
