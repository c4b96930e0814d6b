// A task: its details, the "Cloud storage" field (relink), frames, and the export dialog.
import { ApiError, api, followRequest } from "../api.js";
import { openExportDialog } from "../export.js";
import {
  $, PROVIDERS, done, formatDate, h, isCloudBased, pageIds, requireUser, showError,
  stateFromMeta, storageName, storagesById,
} from "../ui.js";

const taskId = Number(pageIds().task_id);
const MISSING_SHOWN = 5;
let task;
let state; // stateFromMeta(meta)
let storages; // Map id -> storage
let frame = 0;
let frameUrl = null;

const MEDIA_TEXT = {
  local: "Local (on this server)",
  share: "Server share",
  cloud: "Cloud storage",
  unlinked: "Cloud storage (not connected)",
};

function storageOption(storage) {
  const label = `${storage.display_name} — ${PROVIDERS[storage.provider_type] || storage.provider_type} · ${storage.resource}`;
  return h("option", { value: storage.id }, label);
}

// The "Cloud storage" field: the current storage in a selector, or a "not connected" warning.
function renderStorageField() {
  const field = $("#cloud-storage-field");
  const control = $("#cloud-storage-control");
  const note = $("#cloud-storage-state");
  field.setAttribute("aria-busy", "false");
  field.dataset.state = state.kind;
  if (!isCloudBased(state)) {
    control.replaceChildren(h("span", { id: "cloud-storage-value", class: "muted" }, "None: the media are not in a cloud storage"));
    $("#cloud-storage-label").removeAttribute("for");
    note.textContent = "";
    return;
  }
  const select = h("select", { id: "cloud-storage-select", "aria-describedby": "cloud-storage-state" });
  if (state.kind === "unlinked") {
    select.append(h("option", { value: "", disabled: true }, "Not connected — choose a storage"));
  }
  const list = [...storages.values()];
  if (state.storageId !== null && !storages.has(state.storageId)) {
    list.unshift({ id: state.storageId, display_name: `#${state.storageId}`, provider_type: "", resource: "" });
  }
  select.append(...list.map(storageOption));
  select.value = state.storageId === null ? "" : String(state.storageId);
  select.dataset.current = select.value;
  select.addEventListener("change", () => relink(select));
  control.replaceChildren(select);
  if (state.kind === "unlinked") {
    note.replaceChildren(h("span", { class: "badge warn", id: "cloud-storage-warning" }, "not connected"),
      list.length ? " Choose the storage that holds this task's images." : " Add a cloud storage holding this task's images first.",
      list.length ? "" : h("a", { href: "/cloudstorages" }, " Cloud storages →"));
  } else {
    note.replaceChildren(h("span", { class: "badge cloud" }, "connected"));
  }
}

// The server's refusals name a storage by id; the page names it as the user does.
function inWords(err, name) {
  if (err.code === "cloud_storage_not_available") {
    const status = err.extra.status ? ` (its status is ${err.extra.status})` : "";
    return { message: `${name} cannot be used right now${status}.`, extra: {} };
  }
  if (err.code === "cloud_storage_not_found") return { message: `${name} no longer exists, or you cannot use it.`, extra: {} };
  return err;
}

function renderRelinkError(err) {
  const box = $("#relink-error");
  const parts = [h("p", {}, err.message)];
  const missing = err.extra.missing || [];
  const mismatched = err.extra.mismatched || [];
  for (const [keys, count, title] of [
    [missing, err.extra.missing_count || missing.length, "Missing"],
    [mismatched, err.extra.mismatched_count || mismatched.length, "Different content"],
  ]) {
    if (!keys.length) continue;
    const more = count - Math.min(keys.length, MISSING_SHOWN);
    parts.push(h("p", { class: "keys-title" }, `${title} (${count}):`),
      h("ul", { class: "keys" }, keys.slice(0, MISSING_SHOWN).map((key) => h("li", {}, h("code", {}, key)))),
      more > 0 ? h("p", { class: "muted" }, `…and ${more} more.`) : "");
  }
  box.replaceChildren(...parts);
  box.hidden = false;
}

// What a relink check verified, in words (the API's `verification` report).
function verificationLines(v) {
  const lines = [`${v.present} of ${v.expected} images found in one listing of the storage.`];
  if (v.sizes_compared) lines.push(`${v.sizes_compared} sizes compared.`);
  if (v.fingerprints_compared) {
    lines.push(`${v.fingerprints_matched} of ${v.fingerprints_compared} matched by their recorded fingerprint.`);
  }
  if (v.content_sampled) {
    lines.push(`${v.content_matched} of ${v.content_sampled} images downloaded at random have the same pixels as recorded (of ${v.content_candidates} known by their pixels only).`);
  }
  if (v.unverified) lines.push(`${v.unverified} checked by their presence only.`);
  return lines;
}

function storageFieldBusy(busy) {
  $("#cloud-storage-field").setAttribute("aria-busy", String(busy));
}

function keepCurrentStorage() {
  storageFieldBusy(false);
  renderStorageField(); // the current storage stays selected
  $("#cloud-storage-select").focus(); // keyboard users stay on the field
}

// PATCH data/meta with a relink. A large task's relink runs on the server in the background:
// the answer is 202 {rq_id}, and the request is followed (its progress shown in `note`) until
// it finishes — its result holds the verification — or fails with the error the inline PATCH
// would have answered. Returns {verification} either way (and the data meta when inline).
async function patchRelink(body, note, doing) {
  const answer = await api(`/api/tasks/${taskId}/data/meta`, { method: "PATCH", json: body });
  if (!answer.rq_id) return answer;
  const request = await followRequest(answer.rq_id, (r) => {
    const share = r.progress === null ? "" : ` ${Math.round(r.progress * 100)}%`;
    note.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), ` ${doing}`,
      h("span", { id: "relink-progress" }, share));
  }, 500);
  if (request.status === "failed") throw new ApiError(400, request.result || { message: request.message });
  return request.result;
}

// Choosing a storage first checks it without saving (dry_run), shows what was verified, and
// connects only when the user confirms.
async function relink(select) {
  const chosen = Number(select.value);
  const name = storageName(storages.get(chosen), chosen);
  const note = $("#cloud-storage-state");
  $("#relink-error").hidden = true;
  $("#relink-preview").hidden = true;
  select.disabled = true;
  storageFieldBusy(true);
  note.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), ` Checking that ${name} holds this task's images…`);
  try {
    const answer = await patchRelink({ cloud_storage_id: chosen, dry_run: true }, note, `Checking that ${name} holds this task's images…`);
    const v = answer.verification;
    keepCurrentStorage();
    if (!v.ok) {
      renderRelinkError({ message: `${name} does not hold this task's images: ${v.summary}`, extra: v });
      return;
    }
    showRelinkCheck(v, chosen, name);
  } catch (err) {
    keepCurrentStorage();
    if (err instanceof ApiError) renderRelinkError(inWords(err, name));
    else showError($("#relink-error"), err);
  } finally {
    select.disabled = false;
  }
}

function showRelinkCheck(v, chosen, name) {
  const box = $("#relink-preview");
  box.replaceChildren(
    h("p", {}, h("strong", {}, `${name} holds this task's images.`), " Nothing is changed until you connect."),
    h("ul", { class: "verification" }, verificationLines(v).map((line) => h("li", {}, line))),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", id: "relink-confirm", onclick: () => connect(chosen, name) }, `Connect to ${name}`),
      h("button", { type: "button", id: "relink-cancel", onclick: () => { box.hidden = true; $("#cloud-storage-select").focus(); } }, "Cancel")));
  box.hidden = false;
  $("#relink-confirm").focus();
}

async function connect(chosen, name) {
  const box = $("#relink-preview");
  const note = $("#cloud-storage-state");
  for (const button of box.querySelectorAll("button")) button.disabled = true;
  storageFieldBusy(true);
  note.replaceChildren(h("span", { class: "spinner", "aria-hidden": "true" }), ` Connecting to ${name}…`);
  try {
    const answer = await patchRelink({ cloud_storage_id: chosen }, note, `Connecting to ${name}…`);
    const meta = answer.frames ? answer : await api(`/api/tasks/${taskId}/data/meta`);
    box.hidden = true;
    state = stateFromMeta(meta);
    renderAll();
    $("#cloud-storage-state").append(` Linked to ${name}.`);
  } catch (err) {
    box.hidden = true;
    keepCurrentStorage();
    if (err instanceof ApiError) renderRelinkError(err);
    else showError($("#relink-error"), err);
  }
}

function renderDetails() {
  document.title = `${task.name} · cvat_lite`;
  $("#task-title").textContent = task.name;
  $("#crumb-name").textContent = task.name;
  $("#f-id").textContent = task.id;
  $("#f-project").replaceChildren(task.project_id ? h("a", { href: `/?project=${task.project_id}` }, task.project_name) : "—");
  $("#f-size").textContent = task.size;
  $("#f-storage").textContent = task.data === null ? "No data" : MEDIA_TEXT[state.kind];
  $("#f-owner").textContent = task.owner ? task.owner.username : "—";
  $("#f-created").textContent = formatDate(task.created_date);
  $("#unlinked-banner").hidden = state.kind !== "unlinked";
  const exportButton = $("#export-button");
  exportButton.disabled = task.data === null;
  exportButton.onclick = () => openExportDialog({ target: "task", id: task.id, name: task.name, cloudBased: isCloudBased(state) });
}

async function showFrame(number) {
  const img = $("#frame");
  const message = $("#frame-message");
  const viewer = $("#viewer");
  const size = task.size;
  frame = Math.max(0, Math.min(number, size - 1));
  $("#frame-number").value = frame;
  $("#frame-prev").disabled = frame <= 0;
  $("#frame-next").disabled = frame >= size - 1;
  viewer.setAttribute("aria-busy", "true");
  try {
    const blob = await api(`/api/tasks/${taskId}/data?type=frame&number=${frame}&quality=compressed`, { blob: true });
    if (frameUrl) URL.revokeObjectURL(frameUrl);
    frameUrl = URL.createObjectURL(blob);
    await new Promise((resolve, reject) => {
      img.onload = resolve;
      img.onerror = () => reject(new Error("The frame could not be decoded."));
      img.src = frameUrl;
    });
    img.alt = `Frame ${frame} of ${task.name}`;
    img.dataset.frame = frame;
    img.hidden = false;
    message.hidden = true;
  } catch (err) {
    img.hidden = true;
    message.hidden = false;
    message.textContent = err.code === "cloud_storage_unlinked"
      ? "Frames cannot be shown: the task is not connected to a cloud storage."
      : err.message;
    message.className = err.code === "cloud_storage_unlinked" ? "muted" : "error";
  } finally {
    viewer.setAttribute("aria-busy", "false");
  }
}

// The task's thumbnail (GET /api/tasks/{id}/preview); unavailable while not connected.
async function showPreview() {
  const cell = $("#f-preview");
  if (task.data === null) {
    cell.textContent = "—";
    return;
  }
  try {
    const blob = await api(`/api/tasks/${taskId}/preview`, { blob: true });
    cell.replaceChildren(h("img", { class: "preview", id: "task-preview", alt: `Preview of ${task.name}`, src: URL.createObjectURL(blob) }));
  } catch (err) {
    cell.replaceChildren(h("span", { class: "muted" }, err.code === "cloud_storage_unlinked" ? "Unavailable (not connected)" : "Unavailable"));
  }
}

function setUpFrames() {
  const hasFrames = task.data !== null && task.size > 0;
  $("#frame-count").textContent = hasFrames ? task.size : 0;
  for (const id of ["#frame-prev", "#frame-next", "#frame-number"]) $(id).disabled = !hasFrames;
  if (!hasFrames) {
    $("#frame-message").textContent = "This task has no frames.";
    $("#viewer").setAttribute("aria-busy", "false");
    return;
  }
  $("#frame-number").max = task.size - 1;
  showFrame(frame);
}

function renderAll() {
  renderDetails();
  renderStorageField();
  setUpFrames();
  showPreview();
}

async function restoredBanner() {
  const rqId = new URLSearchParams(location.search).get("restored");
  if (!rqId) return;
  try {
    const request = await api(`/api/requests/${encodeURIComponent(rqId)}`);
    const banner = $("#restored-banner");
    banner.replaceChildren(h("strong", {}, "Restored from a backup."), " ", request.message || "");
    banner.hidden = false;
  } catch {
    // The banner is a courtesy: the task itself is what matters.
  }
}

async function main() {
  $("#frame-prev").addEventListener("click", () => showFrame(frame - 1));
  $("#frame-next").addEventListener("click", () => showFrame(frame + 1));
  $("#frame-number").addEventListener("change", (event) => showFrame(Number(event.target.value)));
  await requireUser();
  // Everything the details and the storage field need, before either is shown.
  task = await api(`/api/tasks/${taskId}`);
  const [meta, storageMap] = await Promise.all([
    task.data === null ? null : api(`/api/tasks/${taskId}/data/meta`),
    storagesById(),
  ]);
  storages = storageMap;
  state = meta ? stateFromMeta(meta) : { kind: "none", storageId: null, meta: null };
  renderAll();
  await restoredBanner();
}

main()
  .catch((err) => {
    if (err.status === 404) {
      // Nothing to show but the reason: no details, no frames still "Loading…".
      showError($("#load-error"), "This task does not exist, or you cannot see it.");
      $("#load-error").append(" ", h("a", { href: "/" }, "Back to projects and tasks"));
      $("#task-title").textContent = "Task not found";
      $("#crumb-name").textContent = "Not found";
      document.title = "Task not found · cvat_lite";
      for (const section of document.querySelectorAll("main section")) section.hidden = true;
      $("#export-button").hidden = true;
      return;
    }
    showError($("#load-error"), err);
    $("#task-title").textContent = "Task";
    $("#cloud-storage-control").replaceChildren("—");
    $("#cloud-storage-field").setAttribute("aria-busy", "false");
    $("#frame-message").textContent = "Frames cannot be shown.";
    $("#viewer").setAttribute("aria-busy", "false");
  })
  .finally(done);
