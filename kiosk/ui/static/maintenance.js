// Maintenance page: live thermometer and camera figures, calibration wizard, emissivity,
// relay test pulse, the committee upload (a refused record and a conflict). No inline script (the CSP forbids it); CSRF token from the meta tag.
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const lane = document.getElementById("maintenance").dataset.lane;
  const base = "/maintenance/" + encodeURIComponent(lane);
  const w = (key) => words[key] || key;
  const $ = (id) => document.getElementById(id);
  const num = (v, digits) => (v == null ? "—" : Number(v).toFixed(digits));
  let last = null;

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    }).then((r) => r.json().then((data) => ({ ok: r.ok, data })));
  }

  function refusal(data) {
    // Chinese first, English after, then the detail the server gave.
    const parts = [data.message_zh, data.message_en, data.detail].filter(Boolean);
    return parts.length ? parts.join(" — ") : data.error || "error";
  }

  function show(id, text, ok) {
    const el = $(id);
    el.textContent = text;
    el.className = ok ? "ok" : "error";
  }

  function render(state) {
    const t = state.thermometer;
    const c = state.camera;
    last = t;
    $("t-raw").textContent = num(t.raw_object_c, 2) + " °C";
    $("t-object").textContent = num(t.object_c, 2) + " °C";
    $("t-ambient").textContent = num(t.ambient_c, 2) + " °C" + (t.ambient_low ? " · " + w("ambient.low") : "");
    $("t-present").textContent = t.present ? "✓" : "—";
    $("t-rate").textContent = num(t.samples_per_s, 1);
    $("t-fault").textContent = t.fault || w("maint.ok");
    const cal = t.calibration;
    $("t-calibration").textContent = cal.identity
      ? "—"
      : "×" + cal.gain.toFixed(4) + " " + (cal.offset_c >= 0 ? "+" : "") + cal.offset_c.toFixed(2) +
        " °C · " + (cal.at || "") + " · " + (cal.by || "");
    const d = t.drift;
    $("t-drift").textContent =
      (d.check_due ? w("maint.check_due") : w("maint.check_ok")) +
      (d.median_c != null ? " · " + d.median_c.toFixed(2) + " °C (" + d.count + ")" : "") +
      (d.warning ? " · " + d.warning : "");
    $("t-drift").className = d.check_due ? "error" : "";
    $("emissivity").textContent = t.emissivity != null ? t.emissivity.toFixed(3) : (t.emissivity_error || "—");
    $("c-focus").textContent = num(c.focus, 0);
    $("c-fps").textContent = num(c.fps, 1);
    $("c-decode").textContent = num(c.last_decode_ms, 1);
    $("c-fault").textContent = c.fault || w("maint.ok");
    const u = state.uplink;
    $("u-state").textContent = w("maint.uplink." + u.state);
    $("u-state").className = u.state === "ok" || u.state === "disabled" ? "" : "error";
    $("u-unsent").textContent = u.unsent == null ? "—" : u.unsent;
    $("u-success").textContent = u.last_success || "—";
    $("u-error").textContent = u.last_error || "—";
    $("u-next").textContent = u.next_attempt_s == null ? "—" : num(u.next_attempt_s, 0) + " s";
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
    $("u-held-type").textContent = e.type || "—";
    const locale = document.documentElement.lang === "en" ? "en-GB" : "zh-CN";
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

  $("apply").addEventListener("click", () => {
    const points = [];
    for (const n of [1, 2]) {
      const raw = $("raw-" + n).value;
      const ref = $("ref-" + n).value;
      if (raw !== "" && ref !== "") points.push([parseFloat(raw), parseFloat(ref)]);
    }
    post("/calibration", { points }).then(({ ok, data }) => {
      if (ok) {
        const a = data.after;
        show("wizard-result", w("maint.applied") + ": ×" + a.gain.toFixed(4) + " " +
          (a.offset_c >= 0 ? "+" : "") + a.offset_c.toFixed(2) + " °C", true);
        poll();
      } else {
        show("wizard-result", refusal(data), false);
      }
    });
  });

  $("emissivity-set").addEventListener("click", () => {
    post("/emissivity", { value: parseFloat($("emissivity-value").value) }).then(({ ok, data }) => {
      show("emissivity-result", ok ? w("maint.applied") + ": " + data.after.toFixed(3) : refusal(data), ok);
      poll();
    });
  });

  $("pulse").addEventListener("click", () => {
    post("/pulse").then(({ ok, data }) => show("pulse-result", ok ? w("maint.pulsed") : refusal(data), ok));
  });

  // A refused record: a first tap asks, the second sends kiosk.event_refused in its place.
  $("u-send-refused").addEventListener("click", () => {
    $("u-confirm").hidden = false;
  });

  $("u-confirm").addEventListener("click", () => {
    const seq = Number($("u-held").dataset.seq);
    post("/uplink/send-refused", { seq }).then(({ ok, data }) => {
      $("u-confirm").hidden = true;
      show("u-result", ok ? w("maint.uplink.sent_refused") + " (" + data.seq + ")" : refusal(data), ok);
      poll();
    });
  });

  $("u-retry").addEventListener("click", () => {
    post("/uplink/retry").then(({ ok, data }) => {
      show("u-result", ok ? w("maint.uplink.retried") : refusal(data), ok);
      poll();
    });
  });

  $("camera").addEventListener("error", () => { $("camera").alt = w("maint.no_frame"); });
  poll();
  refreshImage();
  setInterval(poll, 1000);
  setInterval(refreshImage, 2000);
})();
