// Every signed-in page: the clock in the header.
"use strict";
(function () {
  const clock = document.getElementById("clock");
  if (!clock) return;
  const tick = () => {
    const d = new Date();
    const p = (n) => String(n).padStart(2, "0");
    clock.textContent = p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  };
  tick();
  setInterval(tick, 1000);
})();
