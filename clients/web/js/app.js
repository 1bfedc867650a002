// livecast web client: viewers (watch, chat, gifts) and streamers (studio, moderation).
// Plain ES modules, no build step. This module only routes; each page is a module of ./pages/,
// shared pieces sit beside this one (api, chat, chat-panel, player, dom, session).
// Routes are URL hashes:
//   #/                 live now          #/watch/{id}   watch a stream
//   #/studio           your streams      #/studio/{id}  run one stream
//   #/inbox            your notifications

import { startBell } from "./bell.js";
import { inbox } from "./pages/inbox.js";
import { liveNow } from "./pages/live.js";
import { studioStream } from "./pages/studio-stream.js";
import { studio } from "./pages/studio.js";
import { watch } from "./pages/watch.js";
import { SIGNED_OUT } from "./api.js";
import { pageTitle } from "./dom.js";
import { needSession, renderSession } from "./session.js";

const main = document.getElementById("main");
const leaving = []; // run when leaving a page

/** What a page gets: where to draw, and a way to say what to undo when the person leaves. */
const view = { main, onLeave: (fn) => leaving.push(fn) };

function leave() {
  for (const fn of leaving.splice(0)) {
    try {
      fn();
    } catch {
      /* leaving anyway */
    }
  }
}

async function route() {
  leave();
  pageTitle(""); // until the page names itself
  const parts = location.hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter(Boolean)
    .map(decodeURIComponent);
  document.querySelectorAll("nav a").forEach((a) => {
    a.classList.toggle("active", (parts[0] || "") === a.dataset.route);
  });
  if (needSession(main)) return;
  startBell(); // the live unread count on the Inbox link
  if (parts[0] === "inbox") return inbox(view);
  if (parts[0] === "watch" && parts[1]) return watch(view, parts[1]);
  if (parts[0] === "studio" && parts[1]) return studioStream(view, parts[1]);
  if (parts[0] === "studio") return studio(view);
  return liveNow(view);
}

window.addEventListener("hashchange", route);
window.addEventListener(SIGNED_OUT, () => {
  renderSession(route);
  route();
});
window.addEventListener("pagehide", leave);
renderSession(route);
route();
