// loket desk, intake (issue 21): what the caller said suggests kinds of request from the
// policies' word lists; the agent ticks what applies. Several kinds are registered as one call
// through POST /api/v1/requests/calls; one or none through the form's own route.
(function () {
  "use strict";
  let timer = null;
  function choose() {
    const form = document.getElementById("new-request");
    if (!form) return;
    const chosen = [...document.querySelectorAll("#suggested input:checked")].map((i) => i.value);
    const kinds = document.getElementById("kinds");
    const select = document.getElementById("kind");
    if (!form.dataset.singleApi) form.dataset.singleApi = form.dataset.api;
    if (chosen.length > 1) {
      form.dataset.api = "/api/v1/requests/calls";
      kinds.value = chosen.join(",");
      kinds.disabled = false;
      select.disabled = true;
    } else {
      form.dataset.api = form.dataset.singleApi;
      kinds.disabled = true;
      select.disabled = false;
      if (chosen.length === 1) select.value = chosen[0];
    }
  }
  function suggest(event) {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.recognise) return;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const text = input.value.trim();
      const list = document.getElementById("suggested");
      if (text.length < 3) { list.replaceChildren(); choose(); return; }
      const response = await fetch(`${input.dataset.recognise}?${new URLSearchParams({ text })}`,
        { credentials: "same-origin", headers: { "Accept": "application/json" } });
      if (!response.ok) return;
      const { suggestions } = await response.json();
      const labelOf = (kind) => document.querySelector(`#kind option[value="${CSS.escape(kind)}"]`)?.textContent || kind;
      list.replaceChildren(...suggestions.map((s) => {
        const li = document.createElement("li");
        const box = document.createElement("input");
        box.type = "checkbox"; box.name = "_kind"; box.value = s.kind; box.checked = true;
        box.id = `suggest-${s.kind}`;
        box.addEventListener("change", choose);
        const label = document.createElement("label");
        label.htmlFor = box.id;
        label.textContent = ` ${labelOf(s.kind)} (${s.matched.join(", ")}) `;
        const guide = document.createElement("a");
        guide.href = `/desk/guide/${encodeURIComponent(s.kind)}`;
        guide.target = "_blank"; guide.rel = "noopener";
        guide.textContent = "gids/guide";
        li.append(box, label, guide);
        return li;
      }));
      choose();
    }, 250);
  }
  document.addEventListener("input", suggest);
})();
