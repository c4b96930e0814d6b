// Restore a task or project backup: upload (multipart), follow the import, open the result.
import { followRequest, upload } from "../api.js";
import { $, done, requireUser, showError } from "../ui.js";

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const error = $("#restore-error");
  const file = $("#backup-file").files[0];
  error.hidden = true;
  if (!file) {
    showError(error, "Choose a backup file first.");
    return;
  }
  const target = form.elements.namedItem("kind").value;
  const bar = $("#restore-bar");
  const status = $("#restore-status");
  const button = $("#restore-submit");
  button.disabled = true;
  $("#restore-progress").hidden = false;
  try {
    const data = new FormData();
    data.append(`${target}_file`, file);
    const { rq_id: rqId } = await upload(`/api/${target}s/backup/`, data, (fraction) => {
      bar.value = fraction;
      status.textContent = `Uploading… ${Math.round(fraction * 100)}%`;
    });
    bar.removeAttribute("value");
    const request = await followRequest(rqId, (rq) => {
      if (rq.progress !== null) bar.value = rq.progress;
      status.textContent = rq.status === "queued" ? "Waiting for a worker…" : `Restoring… ${rq.progress !== null ? `${Math.round(rq.progress * 100)}%` : ""}`;
    });
    if (request.status === "failed") throw new Error(request.message || "The restore failed.");
    bar.value = 1;
    status.textContent = "Restored.";
    location.assign(target === "task" ? `/tasks/${request.result_id}?restored=${encodeURIComponent(rqId)}` : `/?project=${request.result_id}&restored=${encodeURIComponent(rqId)}`);
  } catch (err) {
    $("#restore-progress").hidden = true;
    showError(error, err);
    button.disabled = false;
  }
}

async function main() {
  $("#restore-form").addEventListener("submit", submit);
  $("#restore-submit").disabled = false;
  await requireUser();
}

main().catch((err) => showError($("#restore-error"), err)).finally(done);
