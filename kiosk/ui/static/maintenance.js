// Maintenance page: live thermometer and camera figures, the calibration wizard (check, then
// confirm; undo to the previous calibration), emissivity, the camera's focus guide, the relay
// test pulse with the pin's levels read back, the committee upload (upload now, a refused
// record, a conflict). One language at a time; times in the gate's local time. No inline
// script (the CSP forbids it); CSRF token from the meta tag.
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const lane = document.getElementById("maintenance").dataset.lane;
  const base = "/maintenance/" + encodeURIComponent(lane);
  const w = (key) => words[key] || key;
  const $ = (id) => document.getElementById(id);
  const num = (v, digits) => (v == null ? "—" : Number(v).toFixed(digits));
  const locale = document.documentElement.lang === "en" ? "en-GB" : "zh-CN";
  const p2 = (n) => String(n).padStart(2, "0");
  const localTime = (iso, ms) => {
    if (!iso) return "—";
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const t = d.getFullYear() + "-" + p2(d.getMonth() + 1) + "-" + p2(d.getDate()) + " " +
      p2(d.getHours()) + ":" + p2(d.getMinutes()) + ":" + p2(d.getSeconds());
    return ms ? t + "." + String(d.getMilliseconds()).padStart(3, "0") : t;
  };
  const seconds = (s) => (s == null ? "—" : s < 1 ? w("maint.now") : Math.round(s) + " " + w("unit.s"));
  let last = null;
  let pulsedAt = null; // the pin's newest change (gate time) when the test pulse was asked
  let lastChange = "";

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    }).then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, data })));
  }

  // A result line: words in the page's language; a refusal's technical detail folded away.
  function show(id, text, ok, detail) {
    const el = $(id);
    el.textContent = text;
    el.className = ok ? "ok" : "error";
    if (detail) {
      const more = document.createElement("details");
      const summary = document.createElement("summary");
      summary.textContent = w("maint.detail");
      const body = document.createElement("span");
      body.textContent = detail;
      more.append(summary, body);
      el.append(more);
    }
  }

  function refusal(id, data) {
    show(id, data.message || w("error.bad_input"), false, data.detail);
  }

  function describeCal(cal) {
    if (!cal || cal.identity) return w("maint.no_calibration");
    const sign = cal.correction_at_36_5_c >= 0 ? "+" : "";
    return w("maint.cal.gain") + " " + cal.gain.toFixed(4) + " · " + w("maint.cal.offset") + " " +
      (cal.offset_c >= 0 ? "+" : "") + cal.offset_c.toFixed(2) + " °C · " +
      w("maint.cal.at_body") + " " + sign + cal.correction_at_36_5_c.toFixed(2) + " °C" +
      (cal.at ? " · " + localTime(cal.at) : "") + (cal.by ? " · " + cal.by : "");
  }

  function render(state) {
    const t = state.thermometer;
    const c = state.camera;
    last = t;
    $("t-raw").textContent = num(t.raw_object_c, 2) + " °C";
    $("t-object").textContent = num(t.object_c, 2) + " °C";
    $("t-ambient").textContent = num(t.ambient_c, 2) + " °C" + (t.ambient_low ? " · " + w("ambient.low") : "");
    $("t-present").textContent = t.present ? w("yes") : w("no");
    $("t-rate").textContent = num(t.samples_per_s, 1);
    $("t-fault").textContent = t.fault ? w("badge.fault") : w("maint.ok");
    $("t-fault").title = t.fault || "";
    $("t-calibration").textContent = describeCal(t.calibration);
    const d = t.drift;
    $("t-drift").textContent =
      (d.check_due ? w("maint.check_due") : w("maint.check_ok")) +
      (d.median_c != null ? " · " + w("maint.median") + " " + d.median_c.toFixed(2) + " °C (" + d.count + ")" : "");
    $("t-drift").className = d.check_due ? "error" : "";
    $("undo").hidden = !t.previous;
    if (t.previous) $("previous-text").textContent = describeCal(t.previous);
    $("emissivity").textContent = t.emissivity != null ? t.emissivity.toFixed(3) : w("maint.sensor_error");
    renderCamera(c);
    renderRelay(state.relay);
    renderUplink(state.uplink);
  }

  function renderCamera(c) {
    $("c-focus").textContent = num(c.focus, 0) + (c.focus_best != null ? " / " + w("maint.focus_best") + " " + num(c.focus_best, 0) : "");
    $("c-fps").textContent = num(c.fps, 1);
    $("c-decode").textContent = num(c.last_decode_ms, 1);
    $("c-fault").textContent = c.fault ? w("badge.fault") : w("maint.ok");
    $("c-fault").title = c.fault || "";
    const guide = $("focus-guide");
    guide.dataset.guide = c.focus_guide || "";
    guide.textContent = w("maint.focus." + c.focus_guide);
    $("focus-help").textContent = w("maint.focus_help." + c.focus_guide);
  }

  // The test pulse's proof: the pin's level read back, high then low again.
  function renderRelay(r) {
    if (!r) return;
    $("r-pin").textContent = "GPIO" + r.pin + " · " + (r.active_high ? w("maint.relay.active_high") : w("maint.relay.active_low"));
    $("r-level").textContent = r.level == null ? "—" : w("maint.relay." + r.level) + (r.open ? " · " + w("relay.open") : "");
    const list = $("r-trace");
    list.textContent = "";
    const recent = r.trace.slice(-6);
    for (const change of recent) {
      const li = document.createElement("li");
      li.dataset.level = change.level;
      li.textContent = localTime(change.at, true) + "  " + w("maint.relay." + change.level);
      list.appendChild(li);
    }
    const newest = r.trace.length ? r.trace[r.trace.length - 1].at : "";
    if (pulsedAt !== null) {
      // the changes since the tap, told apart by the gate's own times
      const after = r.trace.filter((x) => x.at > pulsedAt);
      const high = after.findIndex((x) => x.level === (r.active_high ? "high" : "low"));
      const low = high >= 0 ? after.slice(high + 1).find((x) => x.level === (r.active_high ? "low" : "high")) : null;
      if (high >= 0 && low) {
        const held = (new Date(low.at) - new Date(after[high].at)) / 1000;
        show("pulse-result", w("maint.pulse_seen").replace("{s}", held.toFixed(1)), true);
        pulsedAt = null;
      }
    }
    lastChange = newest;
  }

  function renderUplink(u) {
    $("u-state").textContent = w("maint.uplink." + u.state);
    $("u-state").className = u.state === "ok" || u.state === "disabled" ? "" : "error";
    $("u-unsent").textContent = u.unsent == null ? "—" : u.unsent;
    $("u-success").textContent = localTime(u.last_success);
    $("u-error").textContent = u.last_error || "—";
    $("u-next").textContent = seconds(u.next_attempt_s);
    $("u-push").hidden = u.state === "disabled";
    renderHeld(u);
  }

  function renderHeld(u) {
    const conflict = u.conflict || null;
    $("u-conflict").hidden = !conflict;
    if (conflict) {
      $("u-server-acked").textContent = conflict.server_acked;
      $("u-sent").textContent = conflict.sent_seq;
    }
    const held = u.held_event || null;
    $("u-held").hidden = !held;
    $("u-retry").hidden = !held && !conflict;
    if (!held) {
      $("u-confirm").hidden = true;
      return;
    }
    const e = held.event || {};
    $("u-held").dataset.seq = held.seq;
    $("u-held-seq").textContent = held.seq;
    $("u-held-type").textContent = e.type ? w("event." + e.type) + " (" + e.type + ")" : "—";
    $("u-held-ts").textContent = e.ts ? new Date(e.ts).toLocaleString(locale) : "—";
    $("u-held-lane").textContent = e.lane || "—";
    $("u-held-reason").textContent = held.reason || "—";
    $("u-held-data").textContent = e.data ? JSON.stringify(e.data, null, 1) : "";
    $("u-send-refused").hidden = !held.replaceable;
  }

  function poll() {
    fetch(base + "/state", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((state) => { if (state) render(state); })
      .catch(() => {});
  }

  function refreshImage() {
    $("camera").src = base + "/camera.jpg?t=" + Date.now();
  }

  document.querySelectorAll(".capture").forEach((b) =>
    b.addEventListener("click", () => {
      if (last && last.raw_object_c != null) $("raw-" + b.dataset.point).value = last.raw_object_c.toFixed(2);
    })
  );

  // The points are in a form so that the language switch keeps them; Enter sends nothing.
  $("wizard-form").addEventListener("submit", (e) => e.preventDefault());

  // Calibration: a first tap checks the points and says what would change; a second saves.
  function points() {
    const out = [];
    for (const n of [1, 2]) {
      const raw = $("raw-" + n).value;
      const ref = $("ref-" + n).value;
      if (raw !== "" && ref !== "") out.push([parseFloat(raw), parseFloat(ref)]);
    }
    return out;
  }
  let pending = null;
  $("apply").addEventListener("click", () => {
    $("wizard-result").textContent = "";
    const chosen = points();
    post("/calibration/preview", { points: chosen }).then(({ ok, data }) => {
      if (!ok) {
        $("confirm").hidden = true;
        refusal("wizard-result", data);
        return;
      }
      pending = chosen;
      $("confirm-text").textContent = w("maint.will_become") + " " + describeCal(data.after) +
        " (" + w("maint.now_in_use") + " " + describeCal(data.before) + ")";
      $("confirm").hidden = false;
    });
  });
  $("confirm-cancel").addEventListener("click", () => {
    pending = null;
    $("confirm").hidden = true;
  });
  $("confirm-save").addEventListener("click", () => {
    if (!pending) return;
    post("/calibration", { points: pending }).then(({ ok, data }) => {
      $("confirm").hidden = true;
      pending = null;
      if (ok) show("wizard-result", w("maint.applied") + ": " + describeCal(data.after), true);
      else refusal("wizard-result", data);
      poll();
    });
  });
  $("restore").addEventListener("click", () => { $("restore-confirm").hidden = false; });
  $("restore-confirm").addEventListener("click", () => {
    post("/calibration/restore").then(({ ok, data }) => {
      $("restore-confirm").hidden = true;
      if (ok) show("wizard-result", w("maint.restored") + ": " + describeCal(data.after), true);
      else refusal("wizard-result", data);
      poll();
    });
  });

  $("emissivity-set").addEventListener("click", () => {
    post("/emissivity", { value: parseFloat($("emissivity-value").value) }).then(({ ok, data }) => {
      if (ok) show("emissivity-result", w("maint.applied") + ": " + data.after.toFixed(3), true);
      else refusal("emissivity-result", data);
      poll();
    });
  });

  $("pulse").addEventListener("click", () => {
    pulsedAt = lastChange;
    post("/pulse").then(({ ok, data }) => {
      if (ok) show("pulse-result", w("maint.pulsed"), true);
      else refusal("pulse-result", data);
    });
  });

  $("u-push").addEventListener("click", () => {
    post("/uplink/push").then(({ ok, data }) => {
      if (ok) show("u-result", w("maint.uplink.pushed"), true);
      else refusal("u-result", data);
      poll();
    });
  });

  // A refused record: a first tap asks, the second sends kiosk.event_refused in its place.
  $("u-send-refused").addEventListener("click", () => {
    $("u-confirm").hidden = false;
  });

  $("u-confirm").addEventListener("click", () => {
    const seq = Number($("u-held").dataset.seq);
    post("/uplink/send-refused", { seq }).then(({ ok, data }) => {
      $("u-confirm").hidden = true;
      if (ok) show("u-result", w("maint.uplink.sent_refused") + " (" + data.seq + ")", true);
      else refusal("u-result", data);
      poll();
    });
  });

  $("u-retry").addEventListener("click", () => {
    post("/uplink/retry").then(({ ok, data }) => {
      if (ok) show("u-result", w("maint.uplink.retried"), true);
      else refusal("u-result", data);
      poll();
    });
  });

  $("camera").addEventListener("error", () => { $("camera").alt = w("maint.no_frame"); });
  poll();
  refreshImage();
  setInterval(poll, 1000);
  setInterval(refreshImage, 2000);
})();
