// Page "Your streams" (#/studio): create a stream, list your own.

import { session, streams } from "../api.js";
import { attempt, cards, h, pageTitle } from "../dom.js";

/** @param {{main: HTMLElement, onLeave: (fn: () => void) => void}} view */
export async function studio({ main }) {
  pageTitle("Your streams");
  const me = session().account;
  const title = h("input", {
    name: "title",
    required: true,
    maxlength: 120,
    placeholder: "Title",
    "aria-label": "title",
  });
  const description = h("input", {
    name: "description",
    maxlength: 2000,
    placeholder: "Description (optional)",
    "aria-label": "description",
  });
  const list = h("ul", { class: "cards", "data-testid": "my-streams" });
  const form = h(
    "form",
    {
      class: "create",
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { title: title.value };
        if (description.value.trim()) body.description = description.value;
        const created = await attempt(() => streams.create(body));
        if (created) location.hash = `#/studio/${encodeURIComponent(created.stream_id)}`;
      },
    },
    title,
    description,
    h("button", { type: "submit" }, "Create stream"),
  );
  main.replaceChildren(h("section", {}, h("h1", {}, "Your streams"), form, list));
  const page = await attempt(() => streams.list({ owner: me, status: "all", limit: 50 }));
  if (!page) return;
  cards(list, page.items, "No streams yet: create one above.", (s) => [
    h("a", { href: `#/studio/${encodeURIComponent(s.stream_id)}` }, s.title),
    " ",
    h("span", { class: `badge ${s.status}` }, s.status),
    h("div", { class: "meta" }, `created ${new Date(s.created_at).toLocaleString()}`),
  ]);
}
