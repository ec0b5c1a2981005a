// loket desk: forms marked data-api are sent as JSON to the API, with the session's CSRF token,
// so the API stays the one way the desk changes data and its field errors land on the field.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  function valueOf(el) {
    if (el.type === "checkbox") return el.checked;
    const raw = el.value.trim();
    if (raw === "") return undefined;
    switch (el.dataset.type) {
      case "int": return Number(raw);
      case "datetime": return new Date(raw).toISOString();
      case "list": return raw.split(",").map((v) => v.trim()).filter(Boolean);
      default: return raw;
    }
  }

  // "requester.email" becomes {"requester": {"email": …}}.
  function put(target, path, value) {
    const parts = path.split(".");
    let node = target;
    for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
    node[parts[parts.length - 1]] = value;
  }

  function bodyOf(form, submitter) {
    const body = {};
    // A second button of a form may send fewer fields (a letter's preview takes no version).
    const omit = (submitter?.dataset.omit || "").split(",");
    for (const el of form.elements) {
      if (!el.name || el.name.startsWith("_") || el.disabled || el.type === "submit") continue;
      if (omit.includes(el.name)) continue;
      if (el.type === "radio" && !el.checked) continue;
      const value = valueOf(el);
      if (value !== undefined) put(body, el.name, value);
    }
    if (submitter && submitter.name) put(body, submitter.name, submitter.value);
    return body;
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach((e) => e.remove());
    form.querySelectorAll("[aria-invalid]").forEach((e) => {
      e.removeAttribute("aria-invalid");
      e.removeAttribute("aria-describedby");
    });
    const alert = form.querySelector("[role=alert]");
    if (alert) alert.textContent = "";
  }

  function showErrors(form, status, error) {
    const alert = form.querySelector("[role=alert]");
    const errors = (error && error.errors) || (error && error.field ? [{ field: error.field, message: error.message }] : []);
    let first = null;
    for (const { field, message } of errors) {
      const input = form.querySelector(`[name="${CSS.escape(field)}"]`);
      if (!input) continue;
      const note = document.createElement("p");
      note.className = "field-error";
      note.id = `${form.id || "form"}-${field.replace(/\W/g, "-")}-error`;
      note.textContent = message;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      input.insertAdjacentElement("afterend", note);
      first = first || input;
    }
    if (alert) alert.textContent = `${status}: ${(error && error.message) || "request failed"}`;
    (first || alert)?.focus?.();
  }

  function fill(template, data) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent((data && data[key]) ?? ""));
  }

  async function submit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    event.preventDefault();
    const submitter = event.submitter;
    if (submitter?.dataset.confirm && !window.confirm(submitter.dataset.confirm)) return;
    const url = submitter?.dataset.api || form.dataset.api;
    const method = submitter?.dataset.method || form.dataset.method || "POST";
    clearErrors(form);
    if (submitter) submitter.setAttribute("aria-busy", "true");
    let response, data = null;
    try {
      response = await fetch(url, {
        method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
        body: method === "DELETE" ? undefined : JSON.stringify(bodyOf(form, submitter)),
      });
      data = await response.json().catch(() => null);
    } catch (err) {
      showErrors(form, 0, { message: String(err) });
      return;
    } finally {
      if (submitter) submitter.removeAttribute("aria-busy");
    }
    if (!response.ok) return showErrors(form, response.status, data);
    const showId = submitter?.dataset.show || form.dataset.show;
    const show = showId && document.getElementById(showId);
    if (show) {
      // A letter preview reads as the letter; anything else as its JSON.
      show.textContent = form.dataset.done ? form.dataset.done
        : data && data.body !== undefined
        ? `${data.recipient || ""}\n${data.subject}\n\n${data.body}`
        : JSON.stringify(data, null, 2);
      show.hidden = false;
      show.focus();
      return;
    }
    const next = submitter?.dataset.next || form.dataset.next;
    if (next) window.location.assign(fill(next, data));
    else window.location.reload();
  }

  // The new-request form looks up earlier requests of the same person as the agent types.
  let lookupTimer = null;
  function lookup(event) {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.lookup) return;
    const list = document.getElementById("earlier");
    if (!list) return;
    clearTimeout(lookupTimer);
    lookupTimer = setTimeout(async () => {
      const value = input.value.trim();
      if (value.length < 4) return;
      const query = new URLSearchParams({ [input.dataset.lookup]: value, per_page: "5" });
      const response = await fetch(`/api/v1/requests?${query}`, { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!response.ok) return;
      const page = await response.json();
      list.replaceChildren(...page.items.map((item) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = `/desk/requests/${encodeURIComponent(item.id)}`;
        a.textContent = `${item.reference} · ${item.kind} · ${item.state} · ${item.received_at.slice(0, 10)}`;
        li.append(a);
        return li;
      }));
      document.getElementById("earlier-none").hidden = page.items.length > 0;
    }, 300);
  }

  document.addEventListener("submit", submit);
  document.addEventListener("input", lookup);
})();
