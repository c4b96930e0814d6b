// The user's backup policies (every policy for an administrator) with the state of their last
// run; a failed last run is shown with its error. "Run now" queues a run (a request).
import { api, listAll } from "../api.js";
import { $, done, formatDate, h, requireUser, showError } from "../ui.js";

const REFRESH_MS = 2000;

function what(policy) {
  if (policy.scope === "project") return `project #${policy.project_id}`;
  if (policy.scope === "task") return h("a", { href: `/tasks/${policy.task_id}` }, `task #${policy.task_id}`);
  if (policy.scope === "owner") return `everything of user #${policy.target_owner_id}`;
  return "everything";
}

function keep(policy) {
  const rules = [["last", policy.keep_last], ["daily", policy.keep_daily], ["weekly", policy.keep_weekly], ["monthly", policy.keep_monthly]]
    .filter(([, n]) => n > 0).map(([name, n]) => `${n} ${name}`);
  return rules.length ? rules.join(", ") : "all";
}

function lastRun(policy) {
  const run = policy.last_run;
  if (!run) return h("span", { class: "muted" }, "never run");
  return h("div", {},
    h("span", { class: `badge status-${run.status === "succeeded" ? "finished" : "failed"}`, "data-last-status": run.status }, run.status),
    " ", h("span", { class: "muted small-text" }, formatDate(run.finished_date)),
    h("div", { class: "small-text" }, `${run.written} written, ${run.unchanged} unchanged, ${run.failed} failed, ${run.pruned} pruned`),
    run.error ? h("div", { class: "error small-text", "data-last-error": "" }, run.error) : "");
}

function policyRow(policy, onRun) {
  const button = h("button", { type: "button", class: "secondary" }, "Run now");
  button.addEventListener("click", () => onRun(policy, button));
  return h("tr", { "data-policy-id": String(policy.id), "data-last-status": policy.last_status || "" },
    h("td", {}, policy.name, policy.enabled ? "" : h("span", { class: "tag" }, "disabled"),
      h("div", { class: "muted small-text" }, `${policy.mode}, ${policy.location === "cloud_storage" ? `storage #${policy.cloud_storage_id}` : "data directory"}${policy.prefix ? `: ${policy.prefix}/` : ""}`)),
    h("td", { class: "nowrap" }, what(policy)),
    h("td", { class: "nowrap" }, h("code", {}, policy.cron), h("div", { class: "muted small-text" }, policy.timezone)),
    h("td", {}, keep(policy)),
    h("td", { class: "nowrap" }, policy.next_run ? formatDate(policy.next_run) : "-"),
    h("td", {}, lastRun(policy)),
    h("td", { class: "nowrap" }, button));
}

async function runNow(policy, button) {
  button.disabled = true;
  try {
    await api(`/api/backup/policies/${policy.id}/run`, { method: "POST" });
    $("#live-state").textContent = `Run of "${policy.name}" queued (see Requests).`;
    setTimeout(() => refresh().catch((err) => showError($("#load-error"), err)), REFRESH_MS);
  } catch (err) {
    showError($("#load-error"), err);
  } finally {
    button.disabled = false;
  }
}

async function refresh() {
  const policies = await listAll("/api/backup/policies");
  const rows = policies.map((policy) => policyRow(policy, runNow));
  $("#policies-table tbody").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No backup policies yet."))]));
}

async function main() {
  await requireUser();
  await refresh();
}

main().catch((err) => showError($("#load-error"), err)).finally(done);
