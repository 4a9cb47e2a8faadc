// The sign-in page: the seconds until the next try count down on the page.
"use strict";
(function () {
  const box = document.getElementById("login-wait");
  if (!box) return;
  const shown = box.querySelector(".countdown");
  const until = Date.now() + Number(box.dataset.wait) * 1000;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      box.textContent = box.dataset.ready;
      box.className = "notice";
      clearInterval(timer);
      return;
    }
    shown.textContent = left;
  };
  const timer = setInterval(tick, 250);
})();
