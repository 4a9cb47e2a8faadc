// The Now page: alarms, gate health and the newest events, live over server-sent events.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const words = JSON.parse($("words").textContent);
  const w = (key) => (key in words ? words[key] : key);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const alarmsBox = $("alarms");
  const threshold = parseFloat(alarmsBox.dataset.threshold);
  let serverOffset = 0; // server clock minus this browser's, in ms
  let gates = [];
  const MAX_EVENTS = 100;

  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  };
  const hhmmss = (iso) => (iso ? iso.slice(11, 19) : "");
  const celsius = (value) => Number(value).toFixed(1) + " °C";
  const place = (x) => x.site_name + " · " + x.gate + (x.lane ? " · " + x.lane : "");

  function syncClock(nowIso) {
    if (nowIso) serverOffset = Date.parse(nowIso) - Date.now();
  }

  function age(iso) {
    if (!iso) return null;
    return Math.max(0, Math.round((Date.now() + serverOffset - Date.parse(iso)) / 1000));
  }

  function ageText(seconds) {
    if (seconds === null) return w("now.never");
    if (seconds < 90) return seconds + " " + w("now.s_ago");
    if (seconds < 5400) return Math.round(seconds / 60) + " " + w("now.min_ago");
    return Math.round(seconds / 3600) + " " + w("now.h_ago");
  }

  // -- alarms -------------------------------------------------------------------------------
  function renderAlarms(list) {
    const open = new Set(list.map((a) => String(a.id)));
    alarmsBox.querySelectorAll("[data-alarm]").forEach((node) => {
      if (!open.has(node.dataset.alarm) || node.dataset.live !== "1") node.remove();
    });
    const newest = list.slice().sort((x, y) => (x.raised_at < y.raised_at ? 1 : -1));
    newest.forEach((a, i) => {
      let node = alarmsBox.querySelector('[data-alarm="' + a.id + '"]');
      if (node) {
        node.querySelector(".cleared").textContent = a.cleared_at ? w("now.cleared") + " " + hhmmss(a.cleared_at) : "";
      } else {
        node = alarmNode(a);
        if (i === 0) node.open = true; // the newest one, ready to record
      }
      alarmsBox.appendChild(node); // newest first
    });
    countAlarms();
  }

  function countAlarms() {
    const n = alarmsBox.querySelectorAll("[data-alarm]").length;
    const count = $("alarm-count");
    count.hidden = n === 0;
    count.querySelector("b").textContent = String(n);
    document.body.classList.toggle("alarming", n > 0);
    document.body.dataset.alarms = String(n);
  }

  function alarmNode(a) {
    const node = $("alarm-template").content.firstElementChild.cloneNode(true);
    node.dataset.alarm = a.id;
    node.dataset.live = "1";
    node.classList.add("alarm-" + a.kind.replace(/\./g, "-"));
    node.querySelector(".what").textContent = w(a.what);
    node.querySelector(".where").textContent = place(a);
    const time = node.querySelector("time");
    time.textContent = hhmmss(a.raised_at);
    time.dateTime = a.raised_at;
    if (a.temperature_c) node.querySelector(".value").textContent = celsius(a.temperature_c);
    else if (a.silent_s) node.querySelector(".value").textContent = ageText(a.silent_s);
    else if (a.message) node.querySelector(".value").textContent = a.message;
    if (a.household) node.querySelector(".household").textContent = w("household") + " " + a.household;
    if (a.cleared_at) node.querySelector(".cleared").textContent = w("now.cleared") + " " + hhmmss(a.cleared_at);
    const form = node.querySelector("form.ack");
    if (form) {
      const box = form.querySelector(".outcomes");
      box.appendChild(el("legend", null, w("now.what_done")));
      a.outcomes.forEach((o, i) => {
        const label = el("label", "choice");
        const input = document.createElement("input");
        input.type = "radio";
        input.name = "outcome";
        input.value = o;
        input.id = "alarm-" + a.id + "-" + o;
        label.htmlFor = input.id;
        label.appendChild(input);
        label.appendChild(document.createTextNode(" " + w("outcome." + o)));
        box.appendChild(label);
      });
      const valueField = form.querySelector(".value-field");
      box.addEventListener("change", () => {
        const chosen = form.querySelector('input[name="outcome"]:checked');
        valueField.hidden = !(chosen && chosen.value === "remeasured");
      });
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        acknowledge(a, form);
      });
    }
    return node;
  }

  function acknowledge(a, form) {
    const error = form.querySelector(".error");
    const chosen = form.querySelector('input[name="outcome"]:checked');
    const value = form.querySelector('input[name="value_c"]').value;
    const show = (text) => {
      error.textContent = text;
      error.hidden = false;
    };
    if (!chosen) return show(w("now.error.outcome"));
    if (chosen.value === "remeasured") {
      const v = parseFloat(value);
      if (!(v >= 34 && v <= 43)) return show(w("now.error.value"));
      if (v >= threshold) return show(w("now.error.still_fever"));
    }
    fetch("/alarms/" + a.id + "/ack", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
      body: JSON.stringify({ outcome: chosen.value, value_c: value || null, note: form.querySelector('input[name="note"]').value }),
    }).then((r) => r.json().then((body) => ({ ok: r.ok, body })))
      .then(({ ok, body }) => {
        if (!ok) return show(body.message || body.error);
        const node = alarmsBox.querySelector('[data-alarm="' + a.id + '"]');
        if (node) node.remove();
        countAlarms();
      })
      .catch(() => show(w("now.stream_lost")));
  }

  // -- gates --------------------------------------------------------------------------------
  function renderGates(list) {
    gates = list;
    const body = $("gates").tBodies[0];
    body.textContent = "";
    list.forEach((g) => {
      const tr = el("tr");
      tr.dataset.gate = g.gate;
      const seconds = age(g.last_seen);
      const silent = seconds === null || seconds > 180;
      tr.className = silent ? "gate-silent" : "";
      const name = el("td");
      name.appendChild(document.createTextNode(g.site_name));
      name.appendChild(el("br"));
      name.appendChild(el("small", null, g.gate));
      tr.appendChild(name);
      tr.appendChild(el("td", "age" + (silent ? " bad" : ""), ageText(seconds)));
      tr.appendChild(el("td", g.unsent > 100 ? "bad" : "", g.unsent === null ? "–" : String(g.unsent)));
      const parts = el("td", "parts");
      Object.entries(g.lanes || {}).forEach(([lane, p]) => {
        const line = el("div", "lane-parts");
        line.appendChild(el("span", "lane-name", lane));
        ["thermometer", "camera", "relay"].forEach((part) => {
          if (!(part in p)) return;
          const ok = p[part] === "ok";
          line.appendChild(el("span", "dot " + (ok ? "dot-ok" : "dot-fault"), w("part." + part)));
        });
        parts.appendChild(line);
      });
      tr.appendChild(parts);
      const roster = g.roster_ok ? "now.roster_ok" : g.roster_held ? "now.roster_old" : "now.roster_never";
      tr.appendChild(el("td", g.roster_ok ? "" : "warn", w(roster)));
      body.appendChild(tr);
    });
  }

  setInterval(() => renderGates(gates), 10000); // the ages move on by themselves

  // -- events -------------------------------------------------------------------------------
  function eventNode(e) {
    const li = el("li", "ev ev-" + e.type.replace(/\./g, "-"));
    li.appendChild(el("time", null, hhmmss(e.at)));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("b", null, w("event." + e.type)));
    let text = " " + place(e);
    if (e.direction) text += " · " + w("direction." + e.direction);
    if (e.household) text += " · " + e.household;
    if (e.temperature_c) text += " · " + celsius(e.temperature_c);
    if (e.reason && e.type === "access.denied") text += " · " + w("reason." + e.reason);
    li.appendChild(document.createTextNode(text));
    return li;
  }

  function renderEvents(list) {
    const box = $("events");
    box.textContent = "";
    list.forEach((e) => box.appendChild(eventNode(e)));
  }

  function addEvent(e) {
    const box = $("events");
    box.insertBefore(eventNode(e), box.firstChild);
    while (box.children.length > MAX_EVENTS) box.lastChild.remove();
  }

  function render(state) {
    syncClock(state.now);
    renderAlarms(state.alarms);
    renderGates(state.gates);
    renderEvents(state.events);
  }

  // -- the stream, or polling while none is free --------------------------------------------
  let poller = null;
  function poll() {
    fetch("/now/state", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => {
        if (r.status === 401) window.location.assign("/login?next=/now");
        return r.ok ? r.json() : null;
      })
      .then((state) => state && render(state))
      .catch(() => {});
  }

  function connect() {
    const source = new EventSource("/live/stream");
    document.body.dataset.stream = "connecting";
    source.addEventListener("snapshot", (m) => {
      if (poller) { clearInterval(poller); poller = null; }
      render(JSON.parse(m.data));
      document.body.dataset.stream = "open";
      $("stream-state").hidden = true;
    });
    source.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
    source.addEventListener("alarms", (m) => renderAlarms(JSON.parse(m.data)));
    source.addEventListener("gates", (m) => {
      const body = JSON.parse(m.data);
      syncClock(body.now);
      renderGates(body.gates);
    });
    source.onerror = () => {
      if (source.readyState !== EventSource.CLOSED) {
        document.body.dataset.stream = "reconnecting";
        $("stream-state").hidden = false;
        return;
      }
      // refused (no session, or every stream taken): sign in again, or poll for a while
      fetch("/session", { credentials: "same-origin" }).then((r) => {
        if (r.status === 401) return window.location.assign("/login?next=/now");
        document.body.dataset.stream = "polling";
        if (!poller) poller = setInterval(poll, 10000);
        setTimeout(connect, 30000);
      }).catch(() => setTimeout(connect, 10000));
    };
  }

  render(JSON.parse($("initial-state").textContent));
  connect();
})();
