// The guard screen: live lanes over server-sent events, today's counts and health, the fever
// alarm (beside the other lanes, red, with a sound made here with WebAudio, until the guard
// records what was done), manual opening and hand-measured temperatures, and the demo's
// simulate panel. When the live stream is lost for more than a few seconds the whole screen
// says so (tiles greyed, a banner), and it comes back by itself.
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const w = (key) => words[key] || key;
  const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
  const countdowns = {};
  const $ = (id) => document.getElementById(id);
  //: How long the stream may be down before the screen says it is not live (ms).
  const STREAM_GRACE_MS = 4000;
  //: How long to wait before opening a stream the browser gave up on (ms).
  const REOPEN_MS = 2000;

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
  // A warning the guard must see on the tile (soft anti-passback, home observation coming in,
  // the clock): the words for its code on this lane's direction, else for the code alone.
  function warningText(code, lane) {
    const key = "warning." + code;
    const directed = words[key + "." + lane.direction];
    return (directed || w(key)).replace("{until}", lane.observation_until || "");
  }

  function renderLane(lane) {
    const tile = $("lane-" + lane.name);
    if (!tile) return;
    const faults = Object.keys(lane.faults || {});
    const asksPass = lane.state === "idle" && lane.present && !faults.length;
    const warnings = (lane.warnings || []).map((code) => warningText(code, lane));
    tile.className =
      "lane state-" + lane.state +
      (faults.length ? " has-fault" : "") +
      (asksPass ? " asks-pass" : "") +
      (warnings.length ? " has-warning" : "") +
      (tile.classList.contains("fever-lane") ? " fever-lane" : "");
    tile.dataset.state = lane.state;
    let state = w("state." + lane.state);
    if (faults.length && lane.state === "idle") state = w("state.alert");
    else if (asksPass) state = w("state.show_pass");
    setField(tile, "state", state);
    const main = lang === "zh" ? lane.message_zh : lane.message_en;
    const other = lang === "zh" ? lane.message_en : lane.message_zh;
    setField(tile, "message", main || "");
    setField(tile, "message_other", other || "");
    const warning = tile.querySelector('[data-field="warning"]');
    warning.textContent = warnings.join(" · ");
    warning.hidden = !warnings.length;
    setField(tile, "household", lane.household || "—");
    setField(tile, "temperature", lane.temperature_c == null ? "—" : lane.temperature_c.toFixed(1) + " °C");
    const flags = [];
    if (lane.present && !asksPass) flags.push(w("person.present"));
    if (lane.relay_open) flags.push(w("relay.open"));
    for (const source of faults) {
      flags.push(source === "door" ? w("event." + lane.faults.door) : w("fault") + ": " + w("badge." + source));
    }
    if (lane.ambient_low) flags.push(w("ambient.low"));
    if (lane.closer) flags.push(w("lane.closer"));
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
    // the committee's version reads "2020-02-04T08:00:00+08:00#17": the guard sees "#17"
    const version = r.version ? (r.version.match(/#\d+$/) || [r.version])[0] : w("roster.none");
    roster.textContent = w("roster") + " " + version + (r.version ? " · " + age(r.age_s) : "");
    roster.title = r.version || "";
    roster.classList.toggle("stale", r.age_s == null || r.age_s > 86400);
  }

  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      fetch("/api/state", { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null))
        .then((s) => s && renderStatus(s))
        .catch(() => {});
    }, 400);
  }

  // -- recent events: their words come from the gate (one catalogue for every page) --------
  function addEvent(ev) {
    const list = $("events");
    const li = document.createElement("li");
    li.className = "ev ev-" + ev.type.replace(/\./g, "-");
    li.dataset.type = ev.type;
    li.dataset.seq = ev.seq;
    const words = ev.words || {};
    const parts = [(words.time || "").slice(11), ev.lane || "", words.title || "", words.summary || ""];
    li.textContent = parts.filter(Boolean).join("  ");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > 40) list.removeChild(list.lastChild);
  }

  function loadEvents() {
    fetch("/api/events?limit=40", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((events) => {
        if (!events) return;
        $("events").textContent = "";
        events.reverse().forEach(addEvent);
      })
      .catch(() => {});
  }

  let eventsTimer = null;
  function loadEventsSoon() {
    if (eventsTimer) return;
    eventsTimer = setTimeout(() => {
      eventsTimer = null;
      loadEvents();
    }, 250);
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

  // The alarm takes the place of its lane's tile; the other lanes stay on screen and usable.
  function renderFevers(list) {
    fevers = list || [];
    const box = $("fever");
    const lanes = new Set(fevers.map((f) => f.lane));
    const tiles = document.querySelectorAll(".lane");
    tiles.forEach((tile) => tile.classList.toggle("fever-lane", lanes.has(tile.dataset.lane)));
    const others = [...tiles].filter((tile) => !lanes.has(tile.dataset.lane)).length;
    document.body.classList.toggle("fever-on", fevers.length > 0);
    $("guard-main").classList.toggle("fever-only", fevers.length > 0 && others === 0);
    box.hidden = fevers.length === 0;
    if (!fevers.length) {
      sound(false);
      return;
    }
    const f = fevers[0];
    if (box.dataset.seq !== String(f.seq)) {
      $("fever-value").value = "";
      $("fever-note").value = "";
      $("fever-error").textContent = "";
    }
    box.dataset.seq = f.seq;
    box.dataset.lane = f.lane || "";
    $("fever-lane").textContent = w("lane") + " " + (f.lane || "");
    $("fever-temp").textContent = f.temperature_c == null ? "" : Number(f.temperature_c).toFixed(1) + " °C";
    $("fever-household").textContent = f.household ? w("household") + " " + f.household : "";
    $("fever-time").textContent = new Date(f.ts).toTimeString().slice(0, 8);
    $("fever-more").hidden = fevers.length < 2;
    $("fever-more").textContent = "+" + (fevers.length - 1) + " " + w("fever.more");
    sound(true);
  }

  function closeFever(path, body) {
    const seq = $("fever").dataset.seq;
    $("fever-error").textContent = "";
    post("/api/fevers/" + seq + path, Object.assign({ note: $("fever-note").value }, body)).then(({ ok, data }) => {
      if (!ok) {
        $("fever-error").textContent = data.message || data.error || "";
        return;
      }
      renderFevers(fevers.filter((f) => String(f.seq) !== String(seq)));
    });
  }

  $("fever-release").addEventListener("click", () => closeFever("/release", { temperature_c: $("fever-value").value }));
  document.querySelectorAll(".fever-ack").forEach((b) =>
    b.addEventListener("click", () => closeFever("/ack", { outcome: b.dataset.outcome }))
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

  // -- the live stream, and the screen when it is lost ------------------------------------
  let source = null;
  let lostTimer = null;

  function setLost(lost) {
    document.body.classList.toggle("not-live", lost);
    document.body.dataset.live = lost ? "lost" : "live";
    $("stream-lost").hidden = !lost;
    // nothing the guard taps can reach a gate that does not answer
    document.querySelectorAll(".lane button, .fever button").forEach((b) => { b.disabled = lost; });
  }

  function streamTrouble() {
    if (lostTimer || document.body.classList.contains("not-live")) return;
    lostTimer = setTimeout(() => {
      lostTimer = null;
      setLost(true);
    }, STREAM_GRACE_MS);
  }

  function streamBack() {
    clearTimeout(lostTimer);
    lostTimer = null;
    setLost(false);
  }

  function connect() {
    source = new EventSource("/stream");
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
      loadEventsSoon();
      document.dispatchEvent(new CustomEvent("kiosk:event", { detail: ev })); // parcels.js
      if (/^(access\.|gate\.manual_open|alert\.|registration\.)/.test(ev.type)) refreshSoon();
    });
    source.addEventListener("fevers", (e) => renderFevers(JSON.parse(e.data)));
    source.addEventListener("roster", () => refreshSoon());
    document.body.dataset.stream = "connecting";
    source.onopen = () => {
      document.body.dataset.stream = "open";
      streamBack();
    };
    source.onerror = () => {
      document.body.dataset.stream = "reconnecting";
      streamTrouble();
      if (source.readyState === EventSource.CLOSED) {
        // the browser gave up (the gate answered with an error page): open it again
        setTimeout(connect, REOPEN_MS);
      }
      // A stream refused for want of a session never comes back: sign in again.
      fetch("/api/session", { credentials: "same-origin" }).then((r) => {
        if (r.status === 401) window.location.assign("/login?next=/");
      }).catch(() => {});
    };
  }

  // -- manual opening, with a reason the guard chooses (none is chosen for them) -----------
  const openDialog = $("open-dialog");
  let openLane = null;
  document.querySelectorAll(".open-gate").forEach((b) =>
    b.addEventListener("click", () => {
      openLane = b.dataset.lane;
      $("open-lane").textContent = openLane;
      $("open-error").textContent = "";
      $("open-note").value = "";
      openDialog.querySelectorAll('input[name="reason"]').forEach((r) => { r.checked = false; });
      openDialog.showModal();
    })
  );
  $("open-cancel").addEventListener("click", () => openDialog.close());
  $("open-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = e.target.querySelector('input[name="reason"]:checked');
    if (!chosen) {
      $("open-error").textContent = w("open.error.reason");
      return;
    }
    const note = $("open-note").value;
    post("/api/lanes/" + openLane + "/open", { reason: chosen.value, note }).then(({ ok, data }) => {
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

  // -- demo: the simulate panel, in the place of the recent events -------------------------
  const sim = $("sim");
  if (sim) {
    const main = $("guard-main");
    const toggle = $("sim-toggle");
    const show = (open) => {
      sim.hidden = !open;
      main.classList.toggle("sim-open", open);
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    };
    toggle.addEventListener("click", () => show(sim.hidden));
    $("sim-close").addEventListener("click", () => show(false));
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
    const parts = {};
    const showParts = () => {
      const state = parts[lane()] || {};
      document.querySelectorAll(".sim-part").forEach((b) => {
        const unplugged = state[b.dataset.part + "_plugged"] === false;
        b.setAttribute("aria-pressed", unplugged ? "true" : "false");
        b.textContent = unplugged ? b.dataset.on : b.dataset.off;
      });
    };
    $("sim-lane").addEventListener("change", showParts);
    $("sim-step-in").addEventListener("click", () => {
      const custom = $("sim-text").value;
      const text = custom || select.value || null;
      const objectC = parseFloat($("sim-temp").value);
      post("/api/sim/" + lane() + "/step_in", { text, object_c: objectC });
    });
    $("sim-leave").addEventListener("click", () => post("/api/sim/" + lane() + "/leave"));
    document.querySelectorAll(".sim-part").forEach((b) =>
      b.addEventListener("click", () => {
        const plugged = b.getAttribute("aria-pressed") === "true";
        const which = lane();
        post("/api/sim/" + which + "/part", { part: b.dataset.part, plugged }).then(({ ok, data }) => {
          if (ok) {
            parts[which] = data.lane;
            showParts();
          }
        });
      })
    );
  }

  connect();
  setInterval(tickCountdowns, 250);
  setInterval(refreshSoon, 30000);
  tickCountdowns();
})();
