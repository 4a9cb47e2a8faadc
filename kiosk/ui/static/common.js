// Every signed-in page: the clock in the header; and what was typed on a page survives the
// language switch (the page comes back in the other language with its form as it was).
"use strict";
(function () {
  const clock = document.getElementById("clock");
  if (clock) {
    const tick = () => {
      const d = new Date();
      const p = (n) => String(n).padStart(2, "0");
      clock.textContent = p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
    };
    tick();
    setInterval(tick, 1000);
  }

  // Forms marked data-keep are stashed (this tab only, for a minute) when the language is
  // switched, and filled in again when the same page comes back. Passwords never are.
  const KEY = "kiosk.keep";
  const KEEP_MS = 60000;
  const here = location.pathname + location.search;
  const kept = () => document.querySelectorAll("form[data-keep]");
  const fields = (form) =>
    [...form.elements].filter((el) => el.name && el.name !== "csrf_token" && el.type !== "password");

  document.querySelectorAll("form.lang-form").forEach((form) =>
    form.addEventListener("submit", () => {
      const forms = [...kept()].map((f) =>
        fields(f).map((el) =>
          el.type === "checkbox" || el.type === "radio" ? [el.name, el.value, el.checked] : [el.name, el.value, null]
        )
      );
      if (!forms.length) return;
      try {
        sessionStorage.setItem(KEY, JSON.stringify({ page: here, at: Date.now(), forms }));
      } catch (e) {
        // storage refused (private mode): the switch still works, the form starts afresh
      }
    })
  );

  let stash = null;
  try {
    stash = JSON.parse(sessionStorage.getItem(KEY) || "null");
    sessionStorage.removeItem(KEY);
  } catch (e) {
    stash = null;
  }
  if (stash && stash.page === here && Date.now() - stash.at < KEEP_MS) {
    kept().forEach((form, i) => {
      const values = stash.forms[i] || [];
      const els = fields(form);
      for (const [name, value, checked] of values) {
        for (const el of els) {
          if (el.name !== name) continue;
          if (checked === null) {
            if (el.type !== "checkbox" && el.type !== "radio") el.value = value;
          } else if (el.value === value) {
            el.checked = checked;
          }
        }
      }
      const details = form.querySelectorAll("details");
      details.forEach((d) => {
        if ([...d.querySelectorAll("input")].some((el) => el.value && el.type !== "hidden")) d.open = true;
      });
    });
  }
})();
