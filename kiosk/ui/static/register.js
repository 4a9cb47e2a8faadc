// The health information form: a changed temperature asks for a reason; a fever or a risk
// answer points to the outcomes the rules allow (the server checks everything again).
"use strict";
(function () {
  const temp = document.getElementById("f-temperature");
  const sensor = document.getElementById("f-sensor");
  const noteField = document.getElementById("note-field");
  function update() {
    const edited = sensor.value !== "" && temp.value !== "" && Math.abs(parseFloat(temp.value) - parseFloat(sensor.value)) >= 0.05;
    noteField.classList.toggle("needed", edited);
    noteField.hidden = !edited && noteField.dataset.optional === "1";
    const fever = temp.value !== "" && parseFloat(temp.value) >= parseFloat(temp.dataset.threshold);
    temp.classList.toggle("fever", fever);
  }
  temp.addEventListener("input", update);
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
})();

// After a registration: hand out a temporary pass (临时通行证) to photograph or print.
(function () {
  const button = document.getElementById("temporary-pass");
  if (!button) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
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
        const info = document.getElementById("temporary-info");
        info.textContent =
          data.pass_id + " · " + info.dataset.label + " " + data.valid_until.slice(0, 16).replace("T", " ");
        document.getElementById("temporary-result").hidden = false;
      });
  });
  document.getElementById("temporary-print").addEventListener("click", () => window.print());
})();
