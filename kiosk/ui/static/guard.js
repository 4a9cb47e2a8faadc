// The guard screen: live lanes over server-sent events, today's counts and health, the fever
// alarm (whole screen red, a sound made here with WebAudio, until acknowledged with an
// outcome), manual opening and hand-measured temperatures, and the demo's simulate drawer.
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const w = (key) => words[key] || key;
  const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
  const countdowns = {};
  const $ = (id) => document.getElementById(id);

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    }).then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, status: r.status, data })));
  }

  function setField(tile, name, text) {
    const el = tile.querySelector('[data-field="' + name + '"]');
    if (el) el.textContent = text;
  }

  // -- lanes ------------------------------------------------------------------------------
  function renderLane(lane) {
    const tile = $("lane-" + lane.name);
    if (!tile) return;
    const faults = Object.keys(lane.faults || {});
    tile.className = "lane state-" + lane.state + (faults.length ? " has-fault" : "");
    tile.dataset.state = lane.state;
    setField(tile, "state", faults.length && lane.state === "idle" ? w("state.alert") : w("state." + lane.state));
    const main = lang === "zh" ? lane.message_zh : lane.message_en;
    const other = lang === "zh" ? lane.message_en : lane.message_zh;
    setField(tile, "message", main || "");
    setField(tile, "message_other", other || "");
    setField(tile, "household", lane.household || "—");
    setField(tile, "temperature", lane.temperature_c == null ? "—" : lane.temperature_c.toFixed(1) + " °C");
    const flags = [];
    if (lane.present) flags.push(w("person.present"));
    if (lane.relay_open) flags.push(w("relay.open"));
    for (const [source, msg] of Object.entries(lane.faults || {})) flags.push(w("fault") + ": " + w("badge." + source) + " " + msg);
    if (lane.ambient_low) flags.push(w("ambient.low"));
    setField(tile, "flags", flags.join(" · "));
    tile.querySelector(".manual-temp").hidden = !lane.manual_temperature;
    countdowns[lane.name] = lane.hold_s > 0 ? Date.now() + lane.hold_s * 1000 : 0;
    document.dispatchEvent(new CustomEvent("kiosk:lane", { detail: lane })); // parcels.js
  }

  function tickCountdowns() {
    for (const [name, until] of Object.entries(countdowns)) {
      const tile = $("lane-" + name);
      if (!tile) continue;
      const left = until ? Math.max(0, Math.ceil((until - Date.now()) / 1000)) : 0;
      setField(tile, "countdown", left ? left + " s" : "");
    }
  }

  // -- counts, roster, health -------------------------------------------------------------
  function age(seconds) {
    if (seconds == null) return "";
    if (seconds < 60) return w("age.now");
    if (seconds < 3600) return Math.floor(seconds / 60) + " " + w("age.min");
    if (seconds < 86400) return Math.floor(seconds / 3600) + " " + w("age.hour");
    return Math.floor(seconds / 86400) + " " + w("age.day");
  }

  function renderStatus(state) {
    for (const [k, v] of Object.entries(state.counts || {})) {
      const el = document.querySelector('[data-count="' + k + '"]');
      if (el) el.textContent = v;
    }
    for (const [k, v] of Object.entries(state.badges || {})) {
      const el = document.querySelector('[data-badge="' + k + '"]');
      if (el) {
        el.className = "dot dot-" + v;
        el.title = w("badge." + v);
      }
    }
    const r = state.roster || {};
    const roster = $("roster");
    roster.textContent = w("roster") + " " + (r.version || w("roster.none")) + (r.version ? " · " + age(r.age_s) : "");
    roster.classList.toggle("stale", r.age_s == null || r.age_s > 86400);
  }

  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      fetch("/api/state", { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .then((s) => s && renderStatus(s));
    }, 400);
  }

  // -- recent events ----------------------------------------------------------------------
  function describe(ev) {
    const d = ev.data || {};
    const parts = [ev.ts.slice(11, 19), ev.lane || "", w("event." + ev.type)];
    if (d.household) parts.push(d.household);
    if (d.temperature_c != null) parts.push(Number(d.temperature_c).toFixed(1) + " °C");
    if (d.reason) parts.push(w("reason." + d.reason));
    if (d.outcome) parts.push(w("fever.outcome." + d.outcome) !== "fever.outcome." + d.outcome ? w("fever.outcome." + d.outcome) : w("outcome." + d.outcome));
    if (d.user) parts.push(d.user);
    return parts.filter(Boolean).join("  ");
  }

  function addEvent(ev) {
    const list = $("events");
    const li = document.createElement("li");
    li.className = "ev ev-" + ev.type.replace(/\./g, "-");
    li.dataset.type = ev.type;
    li.dataset.seq = ev.seq;
    li.textContent = describe(ev);
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 40) list.removeChild(list.lastChild);
  }

  function loadEvents() {
    fetch("/api/events?limit=40", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : []))
      .then((events) => {
        $("events").textContent = "";
        events.reverse().forEach(addEvent);
      });
  }

  // -- the fever alarm --------------------------------------------------------------------
  let fevers = [];
  let audio = null;
  let beeper = null;

  function audioContext() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!audio && Ctx) audio = new Ctx();
    return audio;
  }

  function beep(ctx, freq, start, length) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "square";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.5, start + 0.02);
    gain.gain.setValueAtTime(0.5, start + length - 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start);
    osc.stop(start + length);
  }

  function sound(on) {
    const ctx = audioContext();
    if (!ctx) return;
    if (on && !beeper) {
      const play = () => {
        if (ctx.state === "suspended") ctx.resume().catch(() => {});
        const t = ctx.currentTime + 0.02;
        beep(ctx, 1046, t, 0.22);
        beep(ctx, 784, t + 0.28, 0.22);
        $("fever-sound").hidden = ctx.state === "running";
      };
      play();
      beeper = setInterval(play, 800);
    } else if (!on && beeper) {
      clearInterval(beeper);
      beeper = null;
    }
    document.body.dataset.alarm = on ? "sounding" : "";
  }

  function renderFevers(list) {
    fevers = list || [];
    const box = $("fever");
    document.body.classList.toggle("fever-on", fevers.length > 0);
    box.hidden = fevers.length === 0;
    if (!fevers.length) {
      sound(false);
      return;
    }
    const f = fevers[0];
    box.dataset.seq = f.seq;
    $("fever-lane").textContent = w("lane") + " " + (f.lane || "");
    $("fever-temp").textContent = f.temperature_c == null ? "" : Number(f.temperature_c).toFixed(1) + " °C";
    $("fever-household").textContent = f.household ? w("household") + " " + f.household : "";
    $("fever-time").textContent = (f.ts || "").slice(11, 19);
    $("fever-more").hidden = fevers.length < 2;
    $("fever-more").textContent = "+" + (fevers.length - 1) + " " + w("fever.more");
    sound(true);
  }

  document.querySelectorAll(".fever-ack").forEach((b) =>
    b.addEventListener("click", () => {
      const seq = $("fever").dataset.seq;
      const outcome = b.dataset.outcome;
      const body = { outcome, note: $("fever-note").value };
      if (outcome === "remeasured") body.temperature_c = $("fever-value").value;
      $("fever-error").textContent = "";
      post("/api/fevers/" + seq + "/ack", body).then(({ ok, data }) => {
        if (!ok) {
          $("fever-error").textContent = data.message || data.error || "";
          return;
        }
        $("fever-value").value = "";
        $("fever-note").value = "";
        renderFevers(fevers.filter((f) => String(f.seq) !== String(seq)));
      });
    })
  );
  $("fever-sound").addEventListener("click", () => {
    const ctx = audioContext();
    if (ctx) ctx.resume().then(() => { $("fever-sound").hidden = true; });
  });
  // Browsers start sound only after a touch: any touch on the page unlocks it.
  document.addEventListener("pointerdown", () => {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(() => {});
  });

  // -- the live stream --------------------------------------------------------------------
  function connect() {
    const source = new EventSource("/stream");
    source.addEventListener("state", (e) => {
      const state = JSON.parse(e.data);
      Object.values(state.lanes).forEach(renderLane);
      renderStatus(state);
      renderFevers(state.fevers);
      loadEvents();
    });
    source.addEventListener("lane", (e) => renderLane(JSON.parse(e.data)));
    source.addEventListener("event", (e) => {
      const ev = JSON.parse(e.data);
      addEvent(ev);
      document.dispatchEvent(new CustomEvent("kiosk:event", { detail: ev })); // parcels.js
      if (/^(access\.|gate\.manual_open|alert\.|registration\.)/.test(ev.type)) refreshSoon();
    });
    source.addEventListener("fevers", (e) => renderFevers(JSON.parse(e.data)));
    source.addEventListener("roster", () => refreshSoon());
    document.body.dataset.stream = "connecting";
    source.onopen = () => {
      document.body.dataset.stream = "open";
      $("stream-lost").hidden = true;
    };
    source.onerror = () => {
      document.body.dataset.stream = "reconnecting";
      $("stream-lost").hidden = false;
      // A stream refused for want of a session never comes back: sign in again.
      fetch("/api/session", { credentials: "same-origin" }).then((r) => {
        if (r.status === 401) window.location.assign("/login?next=/");
      }).catch(() => {});
    };
  }

  // -- manual opening, with a required reason ----------------------------------------------
  const openDialog = $("open-dialog");
  let openLane = null;
  document.querySelectorAll(".open-gate").forEach((b) =>
    b.addEventListener("click", () => {
      openLane = b.dataset.lane;
      $("open-lane").textContent = openLane;
      $("open-error").textContent = "";
      $("open-note").value = "";
      openDialog.showModal();
    })
  );
  $("open-cancel").addEventListener("click", () => openDialog.close());
  $("open-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const reason = e.target.querySelector('input[name="reason"]:checked').value;
    const note = $("open-note").value;
    post("/api/lanes/" + openLane + "/open", { reason, note }).then(({ ok, data }) => {
      if (ok) openDialog.close();
      else $("open-error").textContent = data.message || data.error;
    });
  });

  // -- a temperature measured by hand (thermometer fault) ----------------------------------
  const tempDialog = $("temp-dialog");
  let tempLane = null;
  document.querySelectorAll(".manual-temp").forEach((b) =>
    b.addEventListener("click", () => {
      tempLane = b.dataset.lane;
      $("temp-lane").textContent = tempLane;
      $("temp-error").textContent = "";
      $("temp-value").value = "";
      tempDialog.showModal();
    })
  );
  $("temp-cancel").addEventListener("click", () => tempDialog.close());
  $("temp-form").addEventListener("submit", (e) => {
    e.preventDefault();
    post("/api/lanes/" + tempLane + "/temperature", { temperature_c: $("temp-value").value }).then(({ ok, data }) => {
      if (ok) tempDialog.close();
      else $("temp-error").textContent = data.message || data.error;
    });
  });

  // -- demo: the simulate drawer -----------------------------------------------------------
  const sim = $("sim");
  if (sim) {
    $("sim-toggle").addEventListener("click", () => (sim.open ? sim.close() : sim.show()));
    const select = $("sim-pass");
    fetch("/api/sim/passes", { credentials: "same-origin" })
      .then((r) => r.json())
      .then((passes) => passes.forEach((p) => {
        const o = document.createElement("option");
        o.value = p.token;
        o.textContent = p.label;
        select.appendChild(o);
      }));
    const lane = () => $("sim-lane").value;
    $("sim-step-in").addEventListener("click", () => {
      const custom = $("sim-text").value;
      const text = custom || select.value || null;
      const objectC = parseFloat($("sim-temp").value);
      post("/api/sim/" + lane() + "/step_in", { text, object_c: objectC });
    });
    $("sim-leave").addEventListener("click", () => post("/api/sim/" + lane() + "/leave"));
  }

  connect();
  setInterval(tickCountdowns, 250);
  setInterval(refreshSoon, 30000);
  tickCountdowns();
})();
