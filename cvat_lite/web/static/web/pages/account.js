// The signed-in user's account: change the password (POST /api/auth/password/change).
import { ApiError, api } from "../api.js";
import { $, done, h, requireUser, showError } from "../ui.js";

const FIELD_LABELS = { old_password: "Current password", new_password1: "New password", new_password2: "New password again" };

function showRefusal(err) {
  const box = $("#password-error");
  const fields = (err instanceof ApiError && err.extra && err.extra.fields) || {};
  const items = Object.entries(fields).flatMap(([field, messages]) =>
    messages.map((message) => h("li", {}, `${FIELD_LABELS[field] || field}: ${message}`)));
  box.replaceChildren(h("p", {}, err.message), items.length ? h("ul", {}, items) : "");
  box.hidden = false;
}

async function change(event) {
  event.preventDefault();
  $("#password-error").hidden = true;
  $("#password-done").hidden = true;
  const button = $("#password-submit");
  button.disabled = true;
  try {
    await api("/api/auth/password/change", {
      method: "POST",
      json: {
        old_password: $("#old-password").value,
        new_password1: $("#new-password1").value,
        new_password2: $("#new-password2").value,
      },
    });
    for (const id of ["#old-password", "#new-password1", "#new-password2"]) $(id).value = "";
    $("#password-done").hidden = false;
  } catch (err) {
    showRefusal(err);
  } finally {
    button.disabled = false;
  }
}

async function main() {
  const user = await requireUser();
  $("#account-username").value = user.username; // for password managers
  $("#password-form").addEventListener("submit", change);
  $("#password-submit").disabled = false;
}

main().catch((err) => showError($("#load-error"), err)).finally(done);
