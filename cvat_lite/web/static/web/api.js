// The one way the pages talk to the service: the public REST API, with the session cookie
// and Django's CSRF header. Errors become ApiError carrying the API's {code, message, extra}.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `The server answered ${status}.`);
    this.status = status;
    this.code = (body && body.code) || "error";
    this.extra = (body && body.extra) || {};
  }
}

function cookie(name) {
  const item = document.cookie.split("; ").find((part) => part.startsWith(`${name}=`));
  return item ? decodeURIComponent(item.slice(name.length + 1)) : "";
}

export function csrfHeaders() {
  return { "X-CSRFToken": cookie("csrftoken") };
}

function toLogin() {
  const next = location.pathname + location.search;
  location.assign(`/login?next=${encodeURIComponent(next)}`);
}

async function body(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) return response.json();
  return null;
}

// api("/api/tasks/1") → parsed JSON; api(path, {method: "PATCH", json: {...}}).
// {form: FormData} sends multipart; {blob: true} returns a Blob (frames, previews).
export async function api(path, { method = "GET", json, form, blob = false, login = true } = {}) {
  const headers = { Accept: "application/json" };
  let payload;
  if (method !== "GET") Object.assign(headers, csrfHeaders());
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(json);
  } else if (form !== undefined) {
    payload = form;
  }
  if (blob) headers.Accept = "*/*";
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 401 && login) {
    toLogin();
    throw new ApiError(401, { message: "Not logged in." });
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = await body(response);
    } catch {
      parsed = null;
    }
    throw new ApiError(response.status, parsed);
  }
  if (blob) return response.blob();
  if (response.status === 204) return null;
  return body(response);
}

// Every item of a paginated list (follows "next").
export async function listAll(path) {
  const items = [];
  let url = path + (path.includes("?") ? "&" : "?") + "page_size=500";
  while (url) {
    const page = await api(url);
    items.push(...page.results);
    url = page.next;
  }
  return items;
}

// Follow a background request until it finishes or fails; onUpdate gets each state.
export async function followRequest(rqId, onUpdate, intervalMs = 300) {
  for (;;) {
    const request = await api(`/api/requests/${encodeURIComponent(rqId)}`);
    onUpdate(request);
    if (request.status === "finished" || request.status === "failed") return request;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

// A multipart upload with progress (fetch reports none): XMLHttpRequest, same API, same headers.
export function upload(path, form, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", cookie("csrftoken"));
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let parsed = null;
      try {
        parsed = JSON.parse(xhr.responseText);
      } catch {
        parsed = null;
      }
      if (xhr.status === 401) toLogin();
      if (xhr.status >= 200 && xhr.status < 300) resolve(parsed);
      else reject(new ApiError(xhr.status, parsed));
    };
    xhr.onerror = () => reject(new ApiError(0, { message: "The upload failed (network error)." }));
    xhr.send(form);
  });
}
