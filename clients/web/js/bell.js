// The bell: your unread notification count on the navigation's Inbox link, kept live without a
// reload. It long-polls GET /notifications/unread-count?known=N&wait_s=25: notifier answers as
// soon as the count differs from N (a followed streamer went live, a gift arrived, another tab
// marked them read) or after 25 s with the count as it is. Why a long poll and not
// EventSource/WebSocket: EventSource cannot send the bearer header, one number is the whole
// state (a lost wake-up costs latency, never correctness), and it is a plain request through
// the gateway (services/notifier/README.md).

import { notifications, session } from "./api.js";
import { h } from "./dom.js";

/** Dispatched on `window` with `detail: {unread}` whenever the count changes. */
export const UNREAD_CHANGED = "livecast:unread";

const WAIT_S = 25;
const MIN_INTERVAL_MS = 2000; // between two polls that came back at once with no change
const RETRY_MS = 5000; // after an error (notifier unavailable)

let running = null; // the account whose loop runs, or null
let known = null; // the count shown

/** Start the live count for the signed-in account (no-op when it already runs for them). */
export function startBell() {
  const s = session();
  if (!s) return;
  if (running === s.account) return;
  running = s.account;
  known = null;
  loop(s.account);
}

/** Show `count` now (after marking read), without waiting for the next answer. */
export function setUnread(count) {
  show(count);
}

/** Fetch the count once more now (the loop keeps running). */
export async function refreshUnread() {
  try {
    show((await notifications.unread()).unread);
  } catch {
    /* notifier unavailable: keep the count shown */
  }
}

async function loop(account) {
  while (running === account && session()?.account === account) {
    const started = Date.now();
    try {
      const { unread } =
        known === null
          ? await notifications.unread()
          : await notifications.unreadChange(known, WAIT_S);
      if (running !== account) return;
      const same = unread === known;
      show(unread);
      if (same && Date.now() - started < MIN_INTERVAL_MS) await sleep(MIN_INTERVAL_MS);
    } catch (err) {
      if (err && err.status === 401) break; // signed out (api.js tells the app)
      await sleep(err && err.retryAfterS ? err.retryAfterS * 1000 : RETRY_MS);
    }
  }
  if (running === account) running = null;
}

function show(count) {
  const changed = count !== known;
  known = count;
  const link = document.querySelector('nav a[data-route="inbox"]');
  if (link) {
    const badge = count
      ? [
          h("span", { class: "bell", "aria-hidden": "true" }, "🔔"),
          h("span", { class: "bell-count", "data-testid": "unread-count" }, String(count)),
        ]
      : [];
    link.replaceChildren("Inbox", ...badge);
    link.setAttribute("aria-label", count ? `Inbox, ${count} unread` : "Inbox");
  }
  if (changed) window.dispatchEvent(new CustomEvent(UNREAD_CHANGED, { detail: { unread: count } }));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
