// The "Export backup" dialog for a task or a project: POST .../backup/export, follow the
// request, offer its result_url.
import { ApiError, api, followRequest } from "./api.js";
import { h } from "./ui.js";

const TEXT = {
  task: {
    label: "Lightweight backup",
    help:
      "Media are not included: the backup carries the list of the task's images (its " +
      "manifest) instead, so it is small and quick. The restored task must be attached to a " +
      "cloud storage holding the images before its frames can be shown.",
  },
  project: {
    label: "Use lightweight backup whenever possible",
    help:
      "Tasks whose media are in a cloud storage are backed up without their media (their " +
      "manifest only); restored, they must be attached to a cloud storage holding the " +
      "images. The other tasks are backed up in full.",
  },
};

// target: "task" | "project"; cloudBased: whether the switch applies (a cloud task, or a
// project with at least one cloud task).
export function openExportDialog({ target, id, name, cloudBased }) {
  const text = TEXT[target];
  const lightweight = h("input", {
    type: "checkbox",
    role: "switch",
    id: "export-lightweight",
    "aria-describedby": "export-lightweight-help",
  });
  const switchRow = h("div", { class: "switch-row", id: "export-lightweight-row", hidden: !cloudBased },
    h("label", { class: "switch", for: "export-lightweight" }, lightweight,
      h("span", { class: "switch-track", "aria-hidden": "true" }), h("span", {}, text.label)),
    h("span", { class: "help", tabindex: "0", "aria-label": "About this option", id: "export-lightweight-info" }, "?",
      h("span", { class: "tooltip", role: "tooltip", id: "export-lightweight-help" }, text.help)));
  const bar = h("progress", { max: "1", id: "export-progress" });
  const status = h("span", { id: "export-status", "aria-live": "polite" });
  const progress = h("div", { class: "progress-block", hidden: true }, bar, status);
  const error = h("p", { class: "error", role: "alert", id: "export-error", hidden: true });
  const link = h("a", { class: "button primary", id: "export-download", hidden: true }, "Download backup");
  const start = h("button", { type: "submit", class: "primary", id: "export-start" }, "Export");
  const close = h("button", { type: "button", id: "export-close", value: "close" }, "Close");
  const form = h("form", { method: "dialog" },
    h("h2", { id: "export-title" }, `Export backup of ${target} “${name}”`),
    h("p", { class: "muted" }, "The backup is made in the background: you can close this dialog " +
      "and download it later from the ", h("a", { href: "/requests" }, "Requests"), " page."),
    switchRow, progress, error,
    h("div", { class: "dialog-actions" }, close, link, start));
  const dialog = h("dialog", { id: "export-dialog", "aria-labelledby": "export-title" }, form);
  document.body.append(dialog);
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    start.disabled = true;
    lightweight.disabled = true;
    error.hidden = true;
    link.hidden = true;
    progress.hidden = false;
    bar.removeAttribute("value");
    status.textContent = "Starting…";
    const query = cloudBased && lightweight.checked ? "?lightweight=true" : "?lightweight=false";
    try {
      let rqId;
      try {
        ({ rq_id: rqId } = await api(`/api/${target}s/${id}/backup/export${query}`, { method: "POST" }));
      } catch (err) {
        // The same export is already running: follow it instead.
        if (!(err instanceof ApiError && err.status === 409 && err.extra.rq_id)) throw err;
        rqId = err.extra.rq_id;
      }
      dialog.dataset.rqId = rqId;
      const request = await followRequest(rqId, (rq) => {
        if (rq.progress !== null) bar.value = rq.progress;
        status.textContent = rq.status === "queued" ? "Queued…" : `${rq.status}${rq.progress !== null ? ` · ${Math.round(rq.progress * 100)}%` : ""}`;
      });
      if (request.status === "failed") throw new Error(request.message || "The export failed.");
      bar.value = 1;
      status.textContent = "Done.";
      link.href = request.result_url;
      link.hidden = false;
    } catch (err) {
      progress.hidden = true;
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      start.disabled = false;
      lightweight.disabled = false;
      start.textContent = "Export again";
    }
  });
  dialog.showModal();
  return dialog;
}
