// The pickup point (取件处) on the guard screen: the tile's notice when a household with
// parcels shows its pass (one tap marks them collected), and the dialog to record a parcel
// (household, a tap for how many, the shelf slot, a tap to record), list what waits
// (takeaway first, with how long it has waited), what is overdue, and what was collected today
// (by a guard's tap, or by the household's pass at the shelf camera).
"use strict";
(function () {
  const words = JSON.parse(document.getElementById("words").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const w = (key) => words[key] || key;
  const zh = document.documentElement.lang.startsWith("zh");
  const $ = (id) => document.getElementById(id);
  const dialog = $("parcel-dialog");
  const shown = {}; // lane -> household of the notice on its tile
  const gone = new Set(); // households collected since their notice went up

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then((r) => r.json().catch(() => ({})).then((data) => ({ ok: r.ok, data })));
  }

  function setCount(n) {
    document.querySelectorAll('[data-count="parcels"]').forEach((el) => (el.textContent = n));
  }

  function waited(seconds) {
    if (seconds < 3600) return Math.max(1, Math.floor(seconds / 60)) + " " + w("parcel.min");
    if (seconds < 86400) return Math.floor(seconds / 3600) + " " + w("parcel.hour");
    return Math.floor(seconds / 86400) + " " + w("parcel.day");
  }

  function notice(p) {
    if (zh) return p.text;
    return p.household + ": " + w("parcel.notice").replace("{n}", p.count) + " · " + p.slots.join(" ");
  }

  // -- the tile's notice ------------------------------------------------------------------
  document.addEventListener("kiosk:lane", (e) => {
    const lane = e.detail;
    const box = document.querySelector('[data-parcels="' + lane.name + '"]');
    if (!box) return;
    const p = lane.parcels;
    if (!p) gone.delete(shown[lane.name]);
    if (!p || gone.has(p.household)) {
      box.hidden = true;
      return;
    }
    shown[lane.name] = p.household;
    box.dataset.household = p.household;
    box.classList.toggle("urgent", !!p.urgent);
    box.querySelector('[data-field="parcels"]').textContent = notice(p);
    box.hidden = false;
  });

  document.querySelectorAll(".parcel-collect").forEach((b) =>
    b.addEventListener("click", () => {
      const box = b.closest(".parcel-notice");
      const household = box.dataset.household;
      post("/api/parcels/collect", { household }).then((res) => {
        if (!res.ok) return;
        gone.add(household);
        box.hidden = true;
        setCount(res.data.items);
        if (dialog.open) load();
      });
    })
  );

  // -- the dialog ---------------------------------------------------------------------------
  function item(p) {
    const li = document.createElement("li");
    li.className = "parcel" + (p.urgent ? " urgent" : "") + (p.late ? " late" : "");
    li.dataset.id = p.id;
    const kind = w("parcel.kind." + p.kind);
    const text = [p.household, p.count + " " + w("parcel.items"), kind, p.slot, p.courier]
      .filter(Boolean)
      .join(" · ");
    const span = document.createElement("span");
    span.textContent = text;
    const age = document.createElement("small");
    age.textContent = w("parcel.waited") + " " + waited(p.waited_s);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "parcel-collect-one";
    button.textContent = w("parcel.collect");
    button.addEventListener("click", () =>
      post("/api/parcels/collect", { id: p.id }).then((res) => {
        if (res.ok) setCount(res.data.items);
        load();
      })
    );
    li.append(span, age, button);
    return li;
  }

  function render(state) {
    setCount(state.items);
    const list = $("parcel-waiting");
    list.textContent = "";
    state.waiting.forEach((p) => list.append(item(p)));
    if (!state.waiting.length) {
      const li = document.createElement("li");
      li.className = "parcel-empty";
      li.textContent = w("parcel.none");
      list.append(li);
    }
    const title = $("parcel-overdue-title");
    title.hidden = !state.overdue.length;
    title.textContent = w("parcel.overdue").replace("{n}", state.overdue_days);
    const overdue = $("parcel-overdue");
    overdue.textContent = "";
    state.overdue.forEach((p) => overdue.append(item(p)));
    const collected = $("parcel-collected");
    collected.textContent = "";
    $("parcel-collected-title").hidden = !(state.collected || []).length;
    (state.collected || []).forEach((p) => collected.append(done(p)));
  }

  function done(p) {
    const li = document.createElement("li");
    li.className = "parcel collected how-" + p.how;
    li.dataset.id = p.id;
    li.dataset.how = p.how;
    const span = document.createElement("span");
    span.textContent = [p.household, p.count + " " + w("parcel.items"), w("parcel.kind." + p.kind), p.slot]
      .filter(Boolean)
      .join(" · ");
    const how = document.createElement("small");
    how.className = "parcel-how";
    how.textContent = w("parcel.how." + p.how) + " " + (p.collected_at || "").slice(11, 16);
    li.append(span, how);
    return li;
  }

  function load() {
    return fetch("/api/parcels", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((state) => state && render(state));
  }

  $("parcel-toggle").addEventListener("click", () => {
    $("parcel-error").textContent = "";
    $("parcel-ok").textContent = "";
    dialog.showModal();
    load();
    $("parcel-household").focus();
  });
  $("parcel-close").addEventListener("click", () => dialog.close());
  $("parcel-slot").addEventListener("input", (e) => (e.target.value = e.target.value.toUpperCase()));

  $("parcel-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.target;
    const body = {
      household: form.household.value,
      slot: form.slot.value,
      count: form.querySelector('input[name="count"]:checked').value,
      kind: form.querySelector('input[name="kind"]:checked').value,
      courier: form.courier.value,
    };
    post("/api/parcels", body).then((res) => {
      $("parcel-error").textContent = res.ok ? "" : res.data.message || "";
      if (!res.ok) return;
      $("parcel-ok").textContent = w("parcel.recorded") + ": " + body.household + " · " + body.slot;
      form.household.value = "";
      form.querySelector('input[name="count"][value="1"]').checked = true;
      setCount(res.data.items);
      load();
      form.household.focus();
    });
  });

  function refresh() {
    if (dialog.open) return load();
    return fetch("/api/parcels", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((state) => state && setCount(state.items));
  }

  // the shelf camera's fault stays in sight on the pickup button, whatever the status bar shows
  const shelfFault = $("parcel-shelf-fault");
  document.addEventListener("kiosk:event", (e) => {
    const ev = e.detail;
    if (!shelfFault || ev.type !== "alert.sensor_fault" || ev.lane) return;
    if ((ev.data || {}).source !== "shelf_camera") return;
    shelfFault.hidden = ev.data.state !== "fault";
  });

  // a parcel recorded or collected anywhere (another guard screen too) updates the count
  let soon = null;
  document.addEventListener("kiosk:event", (e) => {
    if (!/^parcel\./.test(e.detail.type) || soon) return;
    soon = setTimeout(() => {
      soon = null;
      refresh();
    }, 300);
  });
  // how long each parcel has waited moves on
  setInterval(refresh, 30000);

  // demo: hold the chosen pass up to the simulated shelf camera, or take it away (one of the
  // two buttons at a time, so the simulate panel keeps to one row of buttons)
  const shelfShow = $("sim-shelf-show");
  if (shelfShow) {
    const shelfAway = $("sim-shelf-away");
    const held = (yes) => {
      shelfShow.hidden = yes;
      shelfAway.hidden = !yes;
    };
    shelfShow.addEventListener("click", () => {
      const text = $("sim-text").value || $("sim-pass").value || null;
      post("/api/sim/shelf", { text }).then(({ ok }) => ok && held(text !== null));
    });
    shelfAway.addEventListener("click", () =>
      post("/api/sim/shelf", { text: null }).then(({ ok }) => ok && held(false)),
    );
  }
})();
