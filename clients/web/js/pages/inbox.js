// Page "Inbox" (#/inbox): your notifications (a followed streamer went live, a gift, a ban),
// newest first, read or unread, with links to their streams. The list follows the bell
// (../bell.js): when the unread count changes, it is read again.

import { notifications } from "../api.js";
import { UNREAD_CHANGED, refreshUnread, setUnread } from "../bell.js";
import { attempt, h, pageTitle } from "../dom.js";

/** @param {{main: HTMLElement, onLeave: (fn: () => void) => void}} view */
export async function inbox({ main, onLeave }) {
  pageTitle("Inbox");
  const list = h("ul", { class: "inbox", "data-testid": "inbox" });
  const markAll = h(
    "button",
    {
      class: "secondary",
      onclick: async () => {
        if ((await attempt(() => notifications.markRead({ all: true }))) !== undefined) {
          setUnread(0);
          fill();
        }
      },
    },
    "Mark all read",
  );
  main.replaceChildren(h("section", {}, h("h1", {}, "Inbox"), markAll, list));
  async function fill() {
    const page = await attempt(() => notifications.list({ limit: 50 }));
    if (!page) return;
    list.replaceChildren(
      ...(page.items.length
        ? page.items.map(entry)
        : [
            h(
              "li",
              { class: "empty" },
              "Nothing yet: follow a streamer to hear when they go live.",
            ),
          ]),
    );
    markAll.disabled = !page.items.some((n) => !n.read);
  }
  await fill();
  refreshUnread();
  const changed = () => fill();
  window.addEventListener(UNREAD_CHANGED, changed);
  onLeave(() => window.removeEventListener(UNREAD_CHANGED, changed));
}

/** One notification; its title links to the stream it is about, and opening it marks it read. */
function entry(n) {
  const stream = n.data && n.data.stream_id;
  const title = stream
    ? h(
        "a",
        {
          href: `#/watch/${encodeURIComponent(stream)}`,
          onclick: () =>
            notifications
              .markRead({ ids: [n.notification_id] })
              .then(refreshUnread)
              .catch(() => {}),
        },
        n.title,
      )
    : h("b", {}, n.title);
  return h(
    "li",
    { class: `card note ${n.read ? "read" : "unread"}`, dataset: { kind: n.kind } },
    n.read ? null : h("span", { class: "badge new" }, "new"),
    " ",
    title,
    n.body ? h("p", {}, n.body) : null,
    h("div", { class: "meta" }, new Date(n.created_at).toLocaleString()),
  );
}
