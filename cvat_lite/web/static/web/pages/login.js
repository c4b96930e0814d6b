import { api } from "../api.js";
import { $, done, showError } from "../ui.js";

// Where to go after the login: ?next= as the server checked it (cvat_lite/web/views.py
// login_next): a place on this site, else "/". Never read from location.search here.
function nextPath() {
  return JSON.parse($("#login-next").textContent);
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
