// Projects and tasks with where their media are: local, cloud (storage name), not connected.
import { api, listAll } from "../api.js";
import { openExportDialog } from "../export.js";
import {
  $, PROVIDERS, done, h, isCloudBased, requireUser, showError, storageBadge, listStorageState,
  storagesById,
} from "../ui.js";

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

function fill(table, rows, empty) {
  const body = $("tbody", table);
  body.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "5", class: "muted" }, empty))]));
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

async function connectProject(event) {
  event.preventDefault();
  const result = $("#project-relink-result");
  const button = $("#project-relink-form button");
  button.disabled = true;
  result.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), " Checking the tasks' images…");
  try {
    const answer = await api(`/api/projects/${projectFilter}/cloud_storage`, {
      method: "PATCH",
      json: { cloud_storage_id: Number($("#project-relink-select").value) },
    });
    result.replaceChildren(
      h("p", {}, `Connected: ${answer.relinked.length ? answer.relinked.map((id) => `task #${id}`).join(", ") : "none"}.`),
      ...answer.failed.map((failure) => h("p", { class: "error" }, `Task #${failure.task_id}: ${failure.message}`)));
    await load();
  } catch (err) {
    result.replaceChildren(h("p", { class: "error" }, err.message));
  } finally {
    button.disabled = false;
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
  await requireUser();
  await load();
  await restoredBanner();
}

async function load() {
  const [projects, tasks, storages] = await Promise.all([
    listAll("/api/projects"),
    listAll(projectFilter ? `/api/tasks?project_id=${encodeURIComponent(projectFilter)}` : "/api/tasks"),
    storagesById(),
  ]);
  const states = new Map(await Promise.all(tasks.map(async (task) => [task.id, await listStorageState(task)])));
  const byProject = (projectId) => tasks.filter((task) => task.project_id === projectId).map((task) => states.get(task.id));
  const shownProjects = projectFilter ? projects.filter((project) => String(project.id) === projectFilter) : projects;
  fill($("#projects-table"), shownProjects.map((project) => projectRow(project, byProject(project.id), storages)), "No projects yet.");
  fill($("#tasks-table"), tasks.map((task) => taskRow(task, states.get(task.id), storages)),
    "No tasks yet. Create them with the API or the SDK, or restore a backup.");
  $("#all-tasks").hidden = !projectFilter;
  const unlinked = tasks.filter((task) => states.get(task.id).kind === "unlinked").length;
  offerProjectRelink(shownProjects.length === 1 && projectFilter ? shownProjects[0] : null, unlinked, storages);
}

main().catch((err) => showError($("#load-error"), err)).finally(done);
