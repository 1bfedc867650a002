// A small DOM helper shared by every page: element creation, messages to the person, and the
// pieces several pages draw the same way (status badge, card list, stream page layout).

import { ApiError } from "./api.js";

/** Create an element: h("button", {class: "x", onclick}, "text", child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      el.append(child instanceof Node ? child : String(child));
    }
  }
  return el;
}

// ---- errors: every failed API call is shown to the person -------------------------------------

export function showError(err) {
  const box = document.getElementById("errors");
  const text =
    err instanceof ApiError
      ? `${err.message}${err.status ? ` (${err.status} ${err.code})` : ""}`
      : String(err && err.message ? err.message : err);
  const item = h(
    "div",
    { class: "error", role: "alert" },
    h("span", {}, text),
    h("button", { class: "link", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"),
  );
  box.append(item);
  setTimeout(() => item.remove(), 12000);
}

export function notice(text) {
  const item = h("div", { class: "notice", role: "status" }, text);
  document.getElementById("errors").append(item);
  setTimeout(() => item.remove(), 4000);
}

/** Name the page in the browser's title bar and tab (what a screen reader announces first). */
export function pageTitle(text) {
  document.title = text ? `${text} · livecast` : "livecast";
}

/** Run an action, showing its error; returns its result or undefined. */
export async function attempt(action) {
  try {
    return await action();
  } catch (err) {
    showError(err);
    return undefined;
  }
}

// ---- pieces several pages share ----------------------------------------------------------------

/** A status badge; `badge.show(status)` updates it. */
export function statusBadge(value) {
  const badge = h("span", { "data-testid": "status" });
  badge.show = (v) => {
    badge.textContent = v;
    badge.className = `badge ${v}`;
  };
  badge.show(value);
  return badge;
}

/** Fill `list` with one card per stream (`content(stream)` gives its children), or say `empty`. */
export function cards(list, items, empty, content) {
  list.replaceChildren(
    ...(items.length
      ? items.map((item) => h("li", { class: "card" }, ...content(item)))
      : [h("li", { class: "empty" }, empty)]),
  );
}

/** The page of one stream: the stage (video, title, controls) beside its chat. */
export function streamPage(chat, ...stage) {
  return h("div", { class: "watch" }, h("section", { class: "stage" }, ...stage), chat.element);
}
