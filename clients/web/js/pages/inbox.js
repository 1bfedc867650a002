// Page "Inbox" (#/inbox): your notifications (a followed streamer went live, a gift, a ban),
// newest first; and the unread count beside the "Inbox" link of the navigation.

import { notifications } from "../api.js";
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
        if ((await attempt(() => notifications.markRead({ all: true }))) !== undefined) fill();
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
    showUnread();
  }
  await fill();
  const timer = setInterval(fill, 30000);
  onLeave(() => clearInterval(timer));
}

/** One notification; its title links to the stream it is about, and opening it marks it read. */
function entry(n) {
  const stream = n.data && n.data.stream_id;
  const title = stream
    ? h(
        "a",
        {
          href: `#/watch/${encodeURIComponent(stream)}`,
          onclick: () => notifications.markRead({ ids: [n.notification_id] }).catch(() => {}),
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

/** Show the unread count on the navigation's Inbox link (quietly: the count is a hint). */
export async function showUnread() {
  const link = document.querySelector('nav a[data-route="inbox"]');
  if (!link) return;
  let count = 0;
  try {
    count = (await notifications.unread()).unread;
  } catch {
    /* notifier unavailable: no count */
  }
  link.textContent = count ? `Inbox (${count})` : "Inbox";
  link.setAttribute("aria-label", count ? `Inbox, ${count} unread` : "Inbox");
}
