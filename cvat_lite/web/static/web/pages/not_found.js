// "Page not found": fills the header when signed in; the page itself needs nothing else.
import { api } from "../api.js";
import { $, done } from "../ui.js";

api("/api/users/self", { login: false })
  .then((user) => {
    $("#whoami").textContent = user.username;
  })
  .catch(() => {})
  .finally(done);
