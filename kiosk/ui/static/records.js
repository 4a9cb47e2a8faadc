// The registrations list: a name and phone number show in full only on a deliberate tap, one
// row at a time, fetched from the gate when asked (masked again after a while).
"use strict";
(function () {
  const SHOW_S = 20;
  document.querySelectorAll("button.reveal").forEach((button) =>
    button.addEventListener("click", () => {
      const row = button.closest("tr");
      const field = row.querySelector('[data-field="contact"]');
      const masked = field.textContent;
      fetch("/records/registrations/" + encodeURIComponent(button.dataset.registration) + "/contact", {
        credentials: "same-origin",
      })
        .then((r) => (r.ok ? r.json() : null))
        .then((data) => {
          if (!data) return;
          field.textContent = data.name + " · " + data.phone;
          button.hidden = true;
          setTimeout(() => {
            field.textContent = masked;
            button.hidden = false;
          }, SHOW_S * 1000);
        });
    })
  );
})();
