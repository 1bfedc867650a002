// Page "Live now" (#/): the streams that are live, refreshed every 15 s.

import { streams } from "../api.js";
import { attempt, cards, h, pageTitle } from "../dom.js";

/** @param {{main: HTMLElement, onLeave: (fn: () => void) => void}} view */
export async function liveNow({ main, onLeave }) {
  pageTitle("Live now");
  const list = h("ul", { class: "cards", "data-testid": "live-list" });
  main.replaceChildren(
    h(
      "section",
      {},
      h("h1", {}, "Live now"),
      h("button", { class: "secondary", onclick: () => fill() }, "Refresh"),
      list,
    ),
  );
  async function fill() {
    const page = await attempt(() => streams.list({ status: "active", limit: 50 }));
    if (!page) return;
    cards(list, page.items, "Nobody is live right now.", (s) => [
      s.thumbnail_url
        ? h("img", { class: "thumb", src: s.thumbnail_url, alt: "", loading: "lazy" })
        : null,
      h("a", { href: `#/watch/${encodeURIComponent(s.stream_id)}` }, s.title),
      h("div", { class: "meta" }, `${s.owner_id} · ${s.viewer_count} watching`),
      s.description ? h("p", {}, s.description) : null,
    ]);
  }
  await fill();
  const timer = setInterval(fill, 15000);
  onLeave(() => clearInterval(timer));
}
