// The guard screen: live lanes over server-sent events, manual opening, demo panel.
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const w = (key) => words[key] || key;
  const countdowns = {};

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    }).then((r) => r.json().then((data) => ({ ok: r.ok, data })));
  }

  function setField(tile, name, text) {
    const el = tile.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = text;
  }

  function renderLane(lane) {
    const tile = document.getElementById("lane-" + lane.name);
    if (!tile) return;
    tile.className = "lane state-" + lane.state + (Object.keys(lane.faults).length ? " has-fault" : "");
    setField(tile, "state", w("state." + lane.state));
    setField(tile, "message", lane.message_zh || "");
    setField(tile, "message_en", lane.message_en || "");
    setField(tile, "household", lane.household || "—");
    setField(tile, "temperature", lane.temperature_c == null ? "—" : lane.temperature_c.toFixed(1) + " °C");
    const flags = [];
    if (lane.present) flags.push(w("person.present"));
    if (lane.relay_open) flags.push(w("relay.open"));
    for (const [source, msg] of Object.entries(lane.faults)) flags.push(w("fault") + ": " + source + " " + msg);
    if (lane.manual_temperature) flags.push(w("manual.temperature"));
    if (lane.ambient_low) flags.push(w("ambient.low"));
    setField(tile, "flags", flags.join(" · "));
    countdowns[lane.name] = lane.hold_s > 0 ? Date.now() + lane.hold_s * 1000 : 0;
  }

  function tickCountdowns() {
    for (const [name, until] of Object.entries(countdowns)) {
      const tile = document.getElementById("lane-" + name);
      if (!tile) continue;
      const left = until ? Math.max(0, Math.ceil((until - Date.now()) / 1000)) : 0;
      setField(tile, "countdown", left ? left + " s" : "");
    }
    document.getElementById("clock").textContent = new Date().toLocaleTimeString();
  }

  function describe(ev) {
    const d = ev.data || {};
    const parts = [ev.ts.slice(11, 19), ev.lane || "", w("event." + ev.type)];
    if (d.household) parts.push(d.household);
    if (d.temperature_c != null) parts.push(Number(d.temperature_c).toFixed(1) + " °C");
    if (d.reason) parts.push(d.reason);
    return parts.filter(Boolean).join("  ");
  }

  function addEvent(ev) {
    const list = document.getElementById("events");
    const li = document.createElement("li");
    li.className = "ev ev-" + ev.type.replace(/\./g, "-");
    li.dataset.type = ev.type;
    li.dataset.seq = ev.seq;
    li.textContent = describe(ev);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 30) list.removeChild(list.lastChild);
  }

  function loadEvents() {
    fetch("/api/events?limit=30", { credentials: "same-origin" })
      .then((r) => r.json())
      .then((events) => {
        document.getElementById("events").textContent = "";
        events.reverse().forEach(addEvent);
      });
  }

  function connect() {
    const source = new EventSource("/stream");
    source.addEventListener("state", (e) => {
      const state = JSON.parse(e.data);
      Object.values(state.lanes).forEach(renderLane);
      loadEvents();
    });
    source.addEventListener("lane", (e) => renderLane(JSON.parse(e.data)));
    source.addEventListener("event", (e) => addEvent(JSON.parse(e.data)));
    source.addEventListener("roster", (e) => {
      const r = JSON.parse(e.data);
      document.getElementById("roster").textContent = w("roster") + ": " + r.version;
    });
    document.body.dataset.stream = "connecting";
    source.onopen = () => { document.body.dataset.stream = "open"; };
    source.onerror = () => { document.body.dataset.stream = "reconnecting"; };
  }

  // Manual opening, with a required reason.
  const dialog = document.getElementById("open-dialog");
  let openLane = null;
  document.querySelectorAll(".open-gate").forEach((b) =>
    b.addEventListener("click", () => {
      openLane = b.dataset.lane;
      document.getElementById("open-error").textContent = "";
      dialog.showModal();
    })
  );
  document.getElementById("open-cancel").addEventListener("click", () => dialog.close());
  document.getElementById("open-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    const reason = form.querySelector('input[name="reason"]:checked').value;
    const note = document.getElementById("open-note").value;
    post("/api/lanes/" + openLane + "/open", { reason, note }).then(({ ok, data }) => {
      if (ok) dialog.close();
      else document.getElementById("open-error").textContent = data.message || data.error;
    });
  });

  // Demo: the simulate panel.
  const sim = document.getElementById("sim");
  if (sim) {
    const select = document.getElementById("sim-pass");
    fetch("/api/sim/passes", { credentials: "same-origin" })
      .then((r) => r.json())
      .then((passes) => passes.forEach((p) => {
        const o = document.createElement("option");
        o.value = p.token;
        o.textContent = p.label;
        select.appendChild(o);
      }));
    const lane = () => document.getElementById("sim-lane").value;
    document.getElementById("sim-step-in").addEventListener("click", () => {
      const custom = document.getElementById("sim-text").value;
      const text = custom || select.value || null;
      const objectC = parseFloat(document.getElementById("sim-temp").value);
      post("/api/sim/" + lane() + "/step_in", { text, object_c: objectC });
    });
    document.getElementById("sim-leave").addEventListener("click", () => post("/api/sim/" + lane() + "/leave"));
  }

  connect();
  setInterval(tickCountdowns, 250);
  tickCountdowns();
})();
