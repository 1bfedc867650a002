// Gifts as people see them (issue 21): an animation over the video for every `gift` frame, one
// per combo streak with its running count (`streak_id`, `streak_count`: decided by the server,
// so every viewer and the studio show the same streak), and, in the studio, the gifts received
// with totals per sender (GET /live/{id}/gifts/summary). The animation is CSS only
// (style.css: .gift-pop, per `animation` id and `tier`); reduced motion shows it without motion.

import { gifts } from "./api.js";
import { attempt, h } from "./dom.js";

const KEEP = 8; // streak cards kept (hidden once over) so a streak that goes on reuses its card

/**
 * The layer over the video where gifts animate. `show(frame)` plays a `gift` frame: a new streak
 * gets its own card; a frame of a streak on screen raises its counter (never lowers it: frames
 * of one streak may arrive out of order) and keeps it up for another `display_ms`.
 * @returns {{element: HTMLElement, show: (frame: import("../../types/api").GiftFrame) => void}}
 */
export function giftStage() {
  // the chat log already reads every gift out (a line per gift): this layer is for the eyes
  const element = h("div", {
    class: "gift-stage",
    "aria-hidden": "true",
    "data-testid": "gift-stage",
  });
  /** @type {Map<string, {card: HTMLElement, count: HTMLElement, timer: number}>} */
  const shown = new Map();

  function show(frame) {
    let item = shown.get(frame.streak_id);
    if (!item) {
      const count = h("b", { class: "gift-count", "data-testid": "gift-streak-count" }, "");
      const card = h(
        "div",
        {
          class: `gift-pop tier-${frame.tier} anim-${frame.animation}`,
          dataset: { streak: frame.streak_id, sender: frame.sender_id, count: "0" },
          "data-testid": "gift-streak",
        },
        h("span", { class: "gift-icon" }, ""),
        h("span", { class: "gift-who" }, `${frame.sender_id} · ${frame.gift_type}`),
        count,
      );
      item = { card, count, timer: 0 };
      shown.set(frame.streak_id, item);
      element.append(card);
    }
    item.card.hidden = false;
    const best = Math.max(Number(item.card.dataset.count), frame.streak_count);
    item.card.dataset.count = String(best);
    item.count.textContent = `×${best}`;
    // restart the bump animation on every gift of the streak
    item.card.classList.remove("bump");
    void item.card.offsetWidth;
    item.card.classList.add("bump");
    clearTimeout(item.timer);
    const current = item;
    // shown for display_ms after its latest gift, then hidden; kept (a later gift of the same
    // streak shows it again, with its count) until KEEP newer streaks have come
    const over = () => (current.card.hidden = true);
    current.timer = setTimeout(over, Math.max(frame.display_ms, 1500));
    shown.delete(frame.streak_id);
    shown.set(frame.streak_id, current); // newest last
    for (const [streak, old] of shown) {
      if (shown.size <= KEEP) break;
      if (!old.card.hidden) continue;
      old.card.remove();
      shown.delete(streak);
    }
  }

  return { element, show };
}

/** The player with the gift layer over it. */
export function withGiftStage(player, stage) {
  return h("div", { class: "player-wrap" }, player, stage.element);
}

/**
 * The studio's "Gifts received": total and one row per sender, biggest spender first.
 * `refresh()` reloads it (the studio calls it when a gift frame arrives, at most every 300 ms).
 * @param {string} id the stream
 */
export function giftTotalsPanel(id) {
  const total = h("p", { class: "meta", "data-testid": "gift-total" }, "No gifts yet.");
  const list = h("ul", { class: "plain gift-totals", "data-testid": "gift-totals" });
  const element = h(
    "fieldset",
    { class: "gift-summary", "data-testid": "gifts-received" },
    h("legend", {}, "Gifts received"),
    total,
    list,
  );
  let pending = null;

  async function load() {
    pending = null;
    const summary = await attempt(() => gifts.summary(id));
    if (!summary) return;
    total.textContent = summary.gifts
      ? `${summary.gifts} gifts, ${summary.coins} coins`
      : "No gifts yet.";
    list.replaceChildren(
      ...summary.senders.map((s) =>
        h(
          "li",
          { dataset: { sender: s.sender_id } },
          h("b", {}, s.sender_id),
          `: ${s.gifts} gifts, ${s.coins} coins`,
        ),
      ),
    );
  }

  function refresh() {
    if (!pending) pending = setTimeout(load, 300);
  }

  load();
  return { element, refresh };
}
