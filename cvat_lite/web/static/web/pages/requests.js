// Every background request of the user, its state and progress; refreshed while any runs.
import { listAll } from "../api.js";
import { $, done, formatDate, h, requireUser, showError } from "../ui.js";

const ACTIVE = new Set(["queued", "started"]);
const REFRESH_MS = 1000;
const OPERATION = {
  "export:backup": "Backup export",
  "import:backup": "Backup import",
  "create:task": "Task data",
};

function objectCell(request) {
  const op = request.operation;
  if (op.type === "import:backup") {
    if (request.result_id === null) return op.target;
    const href = op.target === "task" ? `/tasks/${request.result_id}` : `/?project=${request.result_id}`;
    return h("a", { href }, `new ${op.target} #${request.result_id}`);
  }
  if (op.target === "task" && op.task_id !== null) return h("a", { href: `/tasks/${op.task_id}` }, `task #${op.task_id}`);
  if (op.project_id !== null) return h("a", { href: `/?project=${op.project_id}` }, `project #${op.project_id}`);
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
  const rows = requests.map(requestRow);
  $("#requests-table tbody").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "6", class: "muted" }, "No requests yet."))]));
  const running = requests.some((request) => ACTIVE.has(request.status));
  $("#live-state").textContent = running ? "Updating…" : "";
  if (running) setTimeout(() => refresh().catch((err) => showError($("#load-error"), err)), REFRESH_MS);
}

async function main() {
  await requireUser();
  await refresh();
}

main().catch((err) => showError($("#load-error"), err)).finally(done);
