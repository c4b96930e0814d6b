import { api } from "../api.js";
import { $, done, showError } from "../ui.js";

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  // Only paths of this site: never an absolute or protocol-relative URL.
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("#login-error");
  error.hidden = true;
  try {
    await api("/api/auth/login", {
      method: "POST",
      json: { username: $("#username").value, password: $("#password").value },
      login: false,
    });
    location.assign(nextPath());
  } catch (err) {
    showError(error, err.status === 400 ? "Wrong username or password." : err);
  }
});
$("#login-submit").disabled = false;
done();
