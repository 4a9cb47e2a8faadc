// Every page: on a phone the tabs scroll sideways; keep the current one in view.
"use strict";
(function () {
  const here = document.querySelector(".tabs .tab.here");
  if (here && here.parentElement.scrollWidth > here.parentElement.clientWidth) {
    here.parentElement.scrollLeft = here.offsetLeft - here.parentElement.clientWidth / 3;
  }
})();
