// The resident screen: follows one lane live; every message is already free of personal data.
(function () {
  "use strict";
  const root = document.getElementById("resident");
  const lane = root.dataset.lane;
  const idle = JSON.parse(root.dataset.idle);
  let back = null;

  function put(id, text) {
    const el = document.getElementById(id);
    el.textContent = text || "";
    el.hidden = !text;
  }

  function render(view) {
    root.dataset.colour = view.colour;
    root.dataset.arrow = view.arrow || "";
    put("r-arrow", view.arrow);
    const title = document.getElementById("r-title");
    title.textContent = view.title;
    title.classList.toggle("long", !!view.long);
    put("r-title-en", view.title_en);
    put("r-temp", view.temperature);
    put("r-action", view.action);
    put("r-action-en", view.action_en);
    document.getElementById("r-parcel").hidden = !view.parcels;
    document.title = view.title + " · " + view.title_en;
    // Back to idle when the lane's hold time is over, even if the stream went quiet.
    clearTimeout(back);
    if (view.hold_s > 0) back = setTimeout(() => render(idle), (view.hold_s + 1) * 1000);
  }

  render(JSON.parse(root.dataset.view));
  const source = new EventSource("/resident/" + encodeURIComponent(lane) + "/stream");
  source.addEventListener("view", (e) => render(JSON.parse(e.data)));
  source.onopen = () => (root.dataset.stream = "open");
  source.onerror = () => (root.dataset.stream = "reconnecting");
})();
