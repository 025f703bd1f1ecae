// Chat: keeps the newest message in view as messages arrive (and once the history loads),
// unless the reader has scrolled up to read older ones: then their place is kept and a
// "New messages" button offers the way back down. One's own message always shows.
(() => {
  "use strict";
  const SLACK = 48; // pixels above the bottom that still count as "reading the newest"

  const atBottom = (list) => list.scrollHeight - list.scrollTop - list.clientHeight <= SLACK;
  const lastId = (list) => list.lastElementChild?.dataset.id;

  function follow(chat) {
    const list = chat.querySelector("#messages");
    const hint = chat.querySelector("#new-messages");
    let following = true;
    let newest;
    const toBottom = () => {
      list.scrollTop = list.scrollHeight;
      hint.hidden = true;
    };
    chat.addEventListener("htmx:wsBeforeMessage", () => {
      following = atBottom(list);
      newest = lastId(list);
    });
    chat.addEventListener("htmx:wsAfterMessage", () => {
      const arrived = lastId(list) !== newest;
      if (following || (arrived && list.lastElementChild.classList.contains("mine"))) {
        toBottom();
      } else if (arrived) {
        hint.hidden = false;
      }
    });
    list.addEventListener("scroll", () => {
      if (atBottom(list)) hint.hidden = true;
    });
    hint.addEventListener("click", toBottom);
  }

  document.querySelectorAll("[data-chat]").forEach(follow);
})();
