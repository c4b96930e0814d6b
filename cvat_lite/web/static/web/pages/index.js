// Projects and tasks with where their media are: local, cloud (storage name), not connected.
import { ApiError, api, followRequest, listAll } from "../api.js";
import { openExportDialog } from "../export.js";
import {
  $, PROVIDERS, done, emptyRow, h, isCloudBased, ownerColumn, requireUser, showError, storageBadge,
  listStorageState, storagesById,
} from "../ui.js";

let user;
let tasksById = new Map();

const projectFilter = new URLSearchParams(location.search).get("project");

function projectRow(project, states, storages) {
  const cloudBased = states.some(isCloudBased);
  const unlinked = states.filter((state) => state.kind === "unlinked").length;
  const kinds = new Set(states.map((state) => state.kind));
  let badge = h("span", { class: "muted" }, "—");
  if (unlinked) badge = h("span", { class: "badge warn", "data-state": "unlinked" }, `${unlinked} not connected`);
  else if (kinds.has("cloud")) badge = storageBadge(states.find((state) => state.kind === "cloud"), storages);
  else if (kinds.has("local")) badge = storageBadge({ kind: "local" }, storages);
  return h("tr", { "data-project-id": project.id },
    h("td", {}, project.id),
    h("td", {}, h("a", { href: `/?project=${project.id}` }, project.name)),
    h("td", {}, states.length),
    h("td", {}, badge),
    h("td", { class: "actions" }, h("button", {
      type: "button",
      class: "small",
      "data-action": "export",
      onclick: () => openExportDialog({ target: "project", id: project.id, name: project.name, cloudBased }),
    }, "Export backup")));
}

function taskRow(task, state, storages) {
  return h("tr", { "data-task-id": task.id },
    h("td", {}, task.id),
    h("td", {}, h("a", { href: `/tasks/${task.id}` }, task.name)),
    h("td", {}, task.project_id ? h("a", { href: `/?project=${task.project_id}` }, task.project_name) : "—"),
    h("td", {}, task.size),
    h("td", { class: "storage-cell" }, storageBadge(state, storages)));
}

function fill(table, items, makeRow, empty) {
  const withOwner = ownerColumn(table, user, 2);
  const rows = items.map((item) => (withOwner ? withOwner(makeRow(item), item.owner) : makeRow(item)));
  $("tbody", table).replaceChildren(...(rows.length ? rows : [emptyRow(table, empty)]));
}

// A filtered project with unlinked cloud tasks (e.g. just restored): connect them at once
// with PATCH /api/projects/{id}/cloud_storage.
function offerProjectRelink(project, unlinked, storages) {
  const section = $("#project-relink");
  if (!project || !unlinked) {
    section.hidden = true;
    return;
  }
  $("#project-relink-title").textContent = `${unlinked} task${unlinked > 1 ? "s" : ""} of “${project.name}” ${unlinked > 1 ? "are" : "is"} not connected.`;
  const select = $("#project-relink-select");
  select.replaceChildren(...[...storages.values()].map((storage) => h("option", { value: storage.id },
    `${storage.display_name} — ${PROVIDERS[storage.provider_type] || storage.provider_type} · ${storage.resource}`)));
  section.hidden = false;
}

// The first keys a storage lacks (or holds with other content), as the task page lists them.
const KEYS_SHOWN = 5;
function missingKeys(extra) {
  const parts = [];
  for (const [keys, count, title] of [
    [extra.missing || [], extra.missing_count, "Missing"],
    [extra.mismatched || [], extra.mismatched_count, "Different content"],
  ]) {
    if (!keys.length) continue;
    const total = count || keys.length;
    const more = total - Math.min(keys.length, KEYS_SHOWN);
    parts.push(h("p", { class: "keys-title" }, `${title} (${total}):`),
      h("ul", { class: "keys" }, keys.slice(0, KEYS_SHOWN).map((key) => h("li", {}, h("code", {}, key)))),
      more > 0 ? h("p", { class: "muted" }, `…and ${more} more.`) : "");
  }
  return parts;
}

const taskName = (id) => (tasksById.has(id) ? `“${tasksById.get(id).name}”` : `task ${id}`);

function failures(answer) {
  return answer.failed.map((failure) => h("div", { class: "error", "data-failed-task": failure.task_id },
    h("p", {}, `${taskName(failure.task_id)}: ${failure.message}`), missingKeys(failure.extra || {})));
}

// PATCH the project's cloud_storage. A large project's relink runs on the server in the
// background (202 {rq_id}): the request is followed, its progress shown, and its result is the
// body the inline PATCH answers.
async function patchProjectRelink(body, result, doing) {
  const answer = await api(`/api/projects/${projectFilter}/cloud_storage`, { method: "PATCH", json: body });
  if (!answer.rq_id) return answer;
  const request = await followRequest(answer.rq_id, (r) => {
    const share = r.progress === null ? "" : ` ${Math.round(r.progress * 100)}%`;
    result.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), ` ${doing}`,
      h("span", { id: "project-relink-progress" }, share));
  }, 500);
  if (request.status === "failed") throw new ApiError(400, request.result || { message: request.message });
  return request.result;
}

// Connecting a project first checks every task without saving (dry_run) and shows the result;
// the tasks are connected only when the user confirms.
async function connectProject(event) {
  event.preventDefault();
  const result = $("#project-relink-result");
  const button = $("#project-relink-form button");
  const select = $("#project-relink-select");
  const storageId = Number(select.value);
  const storageLabel = select.selectedOptions[0] ? select.selectedOptions[0].textContent.split(" — ")[0] : `storage ${storageId}`;
  button.disabled = true;
  result.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), " Checking the tasks' images…");
  try {
    const check = await patchProjectRelink({ cloud_storage_id: storageId, dry_run: true }, result, "Checking the tasks' images…");
    const ready = check.relinked;
    result.replaceChildren(
      h("p", {}, ready.length
        ? `${storageLabel} holds the images of ${ready.map(taskName).join(", ")}. Nothing is changed until you connect.`
        : `${storageLabel} holds the images of none of these tasks.`),
      ...failures(check),
      h("div", { class: "actions" },
        ready.length ? h("button", {
          type: "button",
          class: "primary",
          id: "project-relink-confirm",
          onclick: () => confirmProject(storageId),
        }, ready.length === 1 ? "Connect 1 task" : `Connect ${ready.length} tasks`) : "",
        h("button", { type: "button", id: "project-relink-cancel", onclick: () => result.replaceChildren() }, "Cancel")));
  } catch (err) {
    result.replaceChildren(h("p", { class: "error" }, err.message));
  } finally {
    button.disabled = false;
  }
}

async function confirmProject(storageId) {
  const result = $("#project-relink-result");
  result.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), " Connecting…");
  try {
    const answer = await patchProjectRelink({ cloud_storage_id: storageId }, result, "Connecting…");
    result.replaceChildren(
      h("p", {}, `Connected: ${answer.relinked.length ? answer.relinked.map(taskName).join(", ") : "none"}.`),
      ...failures(answer));
    await load();
  } catch (err) {
    result.replaceChildren(h("p", { class: "error" }, err.message));
  }
}

async function restoredBanner() {
  const rqId = new URLSearchParams(location.search).get("restored");
  if (!rqId) return;
  const request = await api(`/api/requests/${encodeURIComponent(rqId)}`).catch(() => null);
  if (!request) return;
  const banner = $("#restored-banner");
  banner.replaceChildren(h("strong", {}, "Restored from a backup."), " ", request.message || "");
  banner.hidden = false;
}

async function main() {
  $("#project-relink-form").addEventListener("submit", connectProject);
  user = await requireUser();
  await load();
  await restoredBanner();
}

async function load() {
  const [projects, tasks, storages] = await Promise.all([
    listAll("/api/projects"),
    listAll(projectFilter ? `/api/tasks?project_id=${encodeURIComponent(projectFilter)}` : "/api/tasks"),
    storagesById(),
  ]);
  tasksById = new Map(tasks.map((task) => [task.id, task]));
  const states = new Map(await Promise.all(tasks.map(async (task) => [task.id, await listStorageState(task)])));
  const byProject = (projectId) => tasks.filter((task) => task.project_id === projectId).map((task) => states.get(task.id));
  const shownProjects = projectFilter ? projects.filter((project) => String(project.id) === projectFilter) : projects;
  fill($("#projects-table"), shownProjects, (project) => projectRow(project, byProject(project.id), storages), "No projects yet.");
  fill($("#tasks-table"), tasks, (task) => taskRow(task, states.get(task.id), storages),
    "No tasks yet. Create them with the API or the SDK, or restore a backup.");
  $("#all-tasks").hidden = !projectFilter;
  const unlinked = tasks.filter((task) => states.get(task.id).kind === "unlinked").length;
  offerProjectRelink(shownProjects.length === 1 && projectFilter ? shownProjects[0] : null, unlinked, storages);
}

main().catch((err) => showError($("#load-error"), err)).finally(done);
