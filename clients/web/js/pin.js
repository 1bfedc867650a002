// The pinned message (or announcement) above a stream's chat: shown from `hello.pin` and the
// `pin` frame (clients/types/api.ts PinnedMessage), and taken down at its `until` by itself.

import { h } from "./dom.js";

/** @returns {{element: HTMLElement, show: (pin: object | null) => void}} */
export function pinBanner() {
  const who = h("span", { class: "pin-who" });
  const text = h("span", { class: "pin-text" });
  const element = h(
    "div",
    { class: "pin", role: "status", "aria-label": "Pinned", "data-testid": "pin", hidden: true },
    h("span", { class: "pin-mark", "aria-hidden": "true" }, "📌 "),
    who,
    text,
  );
  let timer = null;
  function show(pin) {
    clearTimeout(timer);
    const left = pin && pin.until ? new Date(pin.until).getTime() - Date.now() : null;
    if (!pin || (left !== null && left <= 0)) {
      element.hidden = true;
      text.textContent = who.textContent = "";
      return;
    }
    who.textContent = pin.account_id ? `${pin.account_id}: ` : "";
    text.textContent = pin.text;
    element.hidden = false;
    if (left !== null) timer = setTimeout(() => show(null), Math.min(left, 2 ** 31 - 1));
  }
  return { element, show };
}
