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
      if (value === undefined) continue;
      // One choice for two fields: data-pair="table,column" splits "customers.email".
      if (el.dataset.pair) {
        const names = el.dataset.pair.split(",");
        const at = String(value).indexOf(".");
        put(body, names[0], String(value).slice(0, at));
        put(body, names[1], String(value).slice(at + 1));
      } else {
        put(body, el.name, value);
      }
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

  // The page's sentences for the API's error codes (and the few words this script writes), in
  // the page's language. The API's own `message` is for developers and never shown.
  let texts = null;
  function text(key) {
    if (texts === null) {
      try { texts = JSON.parse(document.getElementById("error-texts")?.textContent || "{}"); }
      catch (_) { texts = {}; }
    }
    return texts[key];
  }

  // A form may name fields without the API's prefix (the public form's "email" is the API's
  // "requester.email"): data-strip="requester." finds them.
  function inputFor(form, field) {
    const byName = (name) => form.querySelector(`[name="${CSS.escape(name)}"]`);
    const strip = form.dataset.strip;
    return byName(field)
      || (strip && field.startsWith(strip) ? byName(field.slice(strip.length)) : null)
      || form.querySelector(`[data-pair][data-pair*="${CSS.escape(field)}"]`);
  }

  function showErrors(form, status, error) {
    const alert = form.querySelector("[role=alert]");
    const errors = (error && error.errors) || [];
    let first = null;
    for (const { field, code } of errors) {
      const input = inputFor(form, field);
      if (!input) continue;
      const note = document.createElement("p");
      note.className = "field-error";
      note.id = `${form.id || "form"}-${field.replace(/\W/g, "-")}-error`;
      note.textContent = text(`field.${code}`) || text("field.invalid");
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      input.insertAdjacentElement("afterend", note);
      first = first || input;
    }
    const situation = (error && (text(error.code) || text(error.error)))
      || (status === 0 ? text("network") : text("internal_error"));
    if (alert) alert.textContent = situation;
    (first || alert)?.focus?.();
  }

  // A catalog text (a plain string, which is Dutch, or {nl, en}) in the page's language.
  function catalogText(value) {
    if (value === null || typeof value !== "object") return value ?? "";
    const lang = document.documentElement.lang === "en" ? "en" : "nl";
    return value[lang] ?? value[lang === "en" ? "nl" : "en"] ?? "";
  }

  // A dry run's counts as a table: per system, per table, the rows and what would happen.
  function renderDryRun(target, data) {
    target.replaceChildren();
    const rows = (data.systems || []).flatMap((s) => s.tables.map((t) => ({ system: catalogText(s.system_name), ...t })));
    const intro = document.createElement("p");
    intro.textContent = data.held ? text("dry_run.held") : rows.some((r) => r.rows > 0) ? text("dry_run.confirm") : text("dry_run.none");
    target.append(intro);
    if (rows.length) {
      const table = document.createElement("table");
      const head = table.createTHead().insertRow();
      for (const key of ["dry_run.table", "dry_run.rows", "dry_run.what"]) {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = text(key);
        head.append(th);
      }
      const body = table.createTBody();
      for (const r of rows) {
        const tr = body.insertRow();
        tr.dataset.table = r.table;
        tr.className = r.effect;
        tr.insertCell().textContent = `${r.system} · ${r.table}`;
        tr.insertCell().textContent = String(r.rows);
        tr.insertCell().textContent = text(`effect.${r.effect}`) || r.effect;
      }
      target.append(table);
    }
  }

  function fill(template, data) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent((data && data[key]) ?? ""));
  }

  async function submit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.api) return;
    const submitter = event.submitter;
    // A button marked data-native posts the form the ordinary way (the letter's print view).
    if (submitter?.dataset.native) return;
    event.preventDefault();
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
    if (show && submitter?.dataset.render === "dry-run") {
      renderDryRun(show, data);
      show.hidden = false;
      const reveal = submitter.dataset.reveal && document.getElementById(submitter.dataset.reveal);
      if (reveal && !data.held) reveal.hidden = false;
      show.focus();
      return;
    }
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

  // A code the API gives (`erasure`, `in_progress`) in the page's words, as the page shows it.
  let codeWords = null;
  function codeWord(code) {
    if (codeWords === null) {
      const element = document.getElementById("code-words");
      codeWords = element ? JSON.parse(element.textContent) : {};
    }
    return codeWords[code] || code;
  }

  // A stored time (UTC, without zone) as the day in Amsterdam: "2 december 2026".
  function spellDay(stored, lang) {
    // Whole seconds: Date parses at most milliseconds reliably.
    const zoned = /([zZ]|[+-]\d\d:\d\d)$/.test(stored);
    const at = new Date(zoned ? stored : `${stored.slice(0, 19)}Z`);
    if (Number.isNaN(at.getTime())) return stored;
    return at.toLocaleDateString(lang === "en" ? "en-GB" : "nl-NL", { day: "numeric", month: "long", year: "numeric", timeZone: "Europe/Amsterdam" });
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
        a.textContent = `${item.reference} · ${codeWord(item.kind)} · ${codeWord(item.state)} · ${spellDay(item.received_at, list.dataset.lang)}`;
        li.append(a);
        return li;
      }));
      document.getElementById("earlier-none").hidden = page.items.length > 0;
    }, 300);
  }

  document.addEventListener("submit", submit);
  document.addEventListener("click", (event) => {
    if (event.target instanceof Element && event.target.closest("[data-print]")) window.print();
  });
  document.addEventListener("input", lookup);
})();
