// Every background request of the user, its state and progress; refreshed while any runs.
import { listAll } from "../api.js";
import { $, done, emptyRow, formatDate, h, ownerColumn, requireUser, showError } from "../ui.js";

let user;

const ACTIVE = new Set(["queued", "started"]);
const REFRESH_MS = 1000;
const OPERATION = {
  "export:backup": "Backup export",
  "import:backup": "Backup import",
  "create:task": "Task data",
};

// Names of the tasks and projects the requests are about (ids only when they are gone).
const names = { task: new Map(), project: new Map() };

async function loadNames(requests) {
  const ids = (target) => requests.map((r) => (r.operation.type === "import:backup" ? (r.operation.target === target ? r.result_id : null)
    : target === "task" ? r.operation.task_id : r.operation.project_id)).filter((id) => id !== null && id !== undefined);
  for (const target of ["task", "project"]) {
    if (ids(target).every((id) => names[target].has(id))) continue;
    const objects = await listAll(`/api/${target}s`);
    names[target] = new Map(objects.map((obj) => [obj.id, obj.name]));
  }
}

function objectLink(target, id, prefix = "") {
  const href = target === "task" ? `/tasks/${id}` : `/?project=${id}`;
  const name = names[target].get(id);
  return h("a", { href }, name === undefined ? `${prefix}${target} ${id}` : `${prefix}${target} “${name}”`);
}

function objectCell(request) {
  const op = request.operation;
  if (op.type === "import:backup") {
    if (request.result_id === null) return op.target;
    return objectLink(op.target, request.result_id, "new ");
  }
  if (op.target === "task" && op.task_id !== null) return objectLink("task", op.task_id);
  if (op.project_id !== null) return objectLink("project", op.project_id);
  return op.target;
}

function requestRow(request) {
  const op = request.operation;
  const progress = request.status === "finished" ? 1 : request.progress;
  return h("tr", { "data-rq-id": request.id, "data-status": request.status, "data-lightweight": String(Boolean(op.lightweight)) },
    h("td", {}, OPERATION[op.type] || op.type, " ",
      op.type === "export:backup"
        ? h("span", { class: `tag ${op.lightweight ? "light" : ""}`, "data-kind": op.lightweight ? "lightweight" : "full" }, op.lightweight ? "lightweight" : "full")
        : ""),
    h("td", {}, objectCell(request)),
    h("td", {}, h("span", { class: `badge status-${request.status}` }, request.status),
      request.message ? h("div", { class: request.status === "failed" ? "error small-text" : "muted small-text" }, request.message) : ""),
    h("td", {}, progress === null
      ? h("progress", { max: "1", "aria-label": "Progress" })
      : h("progress", { max: "1", value: String(progress), "aria-label": `Progress ${Math.round(progress * 100)}%` })),
    h("td", { class: "nowrap" }, formatDate(request.created_date)),
    h("td", {}, request.result_url ? h("a", { href: request.result_url }, "Download") : ""));
}

async function refresh() {
  const requests = await listAll("/api/requests");
  await loadNames(requests);
  const table = $("#requests-table");
  const withOwner = ownerColumn(table, user, 2);
  const rows = requests.map((request) => (withOwner ? withOwner(requestRow(request), request.owner) : requestRow(request)));
  $("tbody", table).replaceChildren(...(rows.length ? rows : [emptyRow(table, "No requests yet.")]));
  const running = requests.some((request) => ACTIVE.has(request.status));
  $("#live-state").textContent = running ? "Updating…" : "";
  if (running) setTimeout(() => refresh().catch((err) => showError($("#load-error"), err)), REFRESH_MS);
}

async function main() {
  user = await requireUser();
  await refresh();
}

main().catch((err) => showError($("#load-error"), err)).finally(done);
