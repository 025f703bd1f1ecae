// Countdowns: every element with data-run-at (a unix time) says, once a second, how long until
// then: "in 42 s", "in 3 min 5 s", "in 2 h 10 min", then "now" (the same words the server
// renders). data-now, the server's clock when it rendered the element, corrects for a browser
// clock that is seconds off. Elements the live socket swaps in later are found on the next tick.
(() => {
  "use strict";
  // A smaller difference is more likely the time the element took to arrive than a wrong clock.
  const SLACK = 2;

  function words(left) {
    const whole = Math.ceil(left);
    if (whole <= 0) return "now";
    if (whole < 60) return `in ${whole} s`;
    if (whole < 3600) return `in ${Math.floor(whole / 60)} min ${whole % 60} s`;
    return `in ${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
  }

  function tick() {
    const here = Date.now() / 1000;
    document.querySelectorAll("[data-run-at]").forEach((element) => {
      const data = element.dataset;
      if (data.skew === undefined) {
        const off = data.now === undefined ? 0 : Number(data.now) - here;
        data.skew = String(Math.abs(off) > SLACK ? off : 0);
      }
      const text = words(Number(data.runAt) - (here + Number(data.skew)));
      if (element.textContent !== text) element.textContent = text;
    });
  }

  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:wsAfterMessage", tick);
})();
