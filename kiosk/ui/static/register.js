// The health information form: the guard picks the lane's reading of this person (never
// filled in by itself); a changed temperature asks for a reason; a fever shows a warning
// beside the field; the ID number stays masked unless revealed with a tap. The server checks
// everything again.
"use strict";
(function () {
  const temp = document.getElementById("f-temperature");
  const reading = document.getElementById("f-reading");
  const note = document.getElementById("sensor-note");
  const noteField = document.getElementById("note-field");
  const warning = document.getElementById("temp-warning");
  function update() {
    const sensor = temp.dataset.sensor;
    const edited = sensor !== "" && temp.value !== "" && Math.abs(parseFloat(temp.value) - parseFloat(sensor)) >= 0.05;
    noteField.classList.toggle("needed", edited);
    noteField.hidden = !edited && noteField.dataset.optional === "1";
    const high = temp.value !== "" && parseFloat(temp.value) >= parseFloat(temp.dataset.threshold);
    temp.classList.toggle("temp-high", high);
    warning.hidden = !high;
  }
  temp.addEventListener("input", update);
  const buttons = [...document.querySelectorAll("button.reading")];
  function pick(button) {
    buttons.forEach((b) => {
      b.classList.toggle("picked", b === button);
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    reading.value = button ? button.dataset.seq : "";
    temp.dataset.sensor = button ? button.dataset.value : "";
    note.textContent = button ? note.dataset.label + " " + button.dataset.value + " °C" : note.dataset.none;
  }
  buttons.forEach((button) =>
    button.addEventListener("click", () => {
      if (button.classList.contains("picked")) {
        pick(null); // a second tap: not this person's reading after all
        temp.value = "";
      } else {
        pick(button);
        temp.value = button.dataset.value;
        const lane = document.getElementById("f-lane");
        if ([...lane.options].some((o) => o.value === button.dataset.lane)) lane.value = button.dataset.lane;
      }
      update();
    })
  );
  // the reading picked before (a form sent back with an error, or kept across the language
  // switch) is shown picked again
  const before = buttons.find((b) => b.dataset.seq === reading.value);
  if (reading.value) pick(before || null);
  update();
  // A courier's default outcome is "courier"; anyone else's "admitted".
  document.querySelectorAll('input[name="kind"]').forEach((r) =>
    r.addEventListener("change", () => {
      const want = r.value === "courier" ? "courier" : "admitted";
      const current = document.querySelector('input[name="outcome"]:checked');
      if (!current || current.value === "courier" || current.value === "admitted") {
        document.getElementById("f-outcome-" + want).checked = true;
      }
    })
  );
  // The ID number: masked on screen; a deliberate tap shows it, another hides it again.
  const id = document.getElementById("f-id");
  const reveal = document.getElementById("f-id-reveal");
  reveal.addEventListener("click", () => {
    const shown = id.classList.toggle("masked") === false;
    reveal.setAttribute("aria-pressed", shown ? "true" : "false");
    reveal.textContent = shown ? reveal.dataset.hide : reveal.dataset.show;
  });
  // Hidden again before the form leaves the screen.
  document.getElementById("reg-form").addEventListener("submit", () => id.classList.add("masked"));
})();

// After a registration: hand out a temporary pass (临时通行证) to photograph or print.
(function () {
  const button = document.getElementById("temporary-pass");
  if (!button) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const local = (iso) => {
    const d = new Date(iso);
    const p = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":" + p(d.getMinutes());
  };
  button.addEventListener("click", () => {
    button.disabled = true;
    fetch("/api/passes/temporary", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      credentials: "same-origin",
      body: JSON.stringify({
        registration_id: button.dataset.registration,
        household: button.dataset.household,
      }),
    })
      .then((r) => r.json().then((data) => ({ ok: r.ok, data })))
      .then(({ ok, data }) => {
        if (!ok) {
          document.getElementById("temporary-error").textContent = data.message || data.error;
          button.disabled = false;
          return;
        }
        document.getElementById("temporary-qr").src = data.qr_png;
        document.getElementById("temporary-household").textContent = data.household;
        document.getElementById("temporary-id").textContent = data.pass_id;
        const valid = document.getElementById("temporary-valid");
        valid.textContent = local(data.valid_from) + " " + valid.dataset.to + " " + local(data.valid_until);
        document.getElementById("temporary-result").hidden = false;
        document.body.classList.add("has-card");
      });
  });
  document.getElementById("temporary-print").addEventListener("click", () => window.print());
})();
