// Page "watch" (#/watch/{id}): the video, the stream's details, follow, gifts and the chat.

import { follows, gifts, streams } from "../api.js";
import { chatPanel } from "../chat-panel.js";
import {
  attempt,
  h,
  notice,
  pageTitle,
  showError,
  statusBadge,
  streamPage,
} from "../dom.js";
import { giftStage, withGiftStage } from "../gifts.js";
import { endedLately, Player, playArchiveWhenReady, playStream } from "../player.js";

/** @param {{main: HTMLElement, onLeave: (fn: () => void) => void}} view @param {string} id */
export async function watch({ main, onLeave }, id) {
  main.replaceChildren(h("p", {}, "Loading…"));
  const [details, joined] = await Promise.all([
    attempt(() => streams.get(id)),
    attempt(() => streams.join(id)),
  ]);
  if (!details) {
    main.replaceChildren(h("p", { class: "empty" }, "This stream is not available."));
    return;
  }
  pageTitle(details.title);
  const status = statusBadge(details.status);
  const count = h(
    "span",
    { "data-testid": "viewer-count" },
    String(joined ? joined.viewer_count : details.viewer_count),
  );
  const player = new Player((msg) => showError(msg));
  const video = player.element;
  const now = joined ? { ...details, status: joined.status } : details;
  if (!playStream(player, now, joined?.playback_url) && endedLately(now)) {
    onLeave(playArchiveWhenReady(player, () => streams.get(id)));
  }
  onLeave(() => player.destroy());
  if (joined) {
    const beat = setInterval(() => streams.heartbeat(id).catch(() => {}), 10000);
    onLeave(() => {
      clearInterval(beat);
      streams.leave(id).catch(() => {});
    });
  }
  const followButton = h(
    "button",
    {
      class: "secondary",
      onclick: async () => {
        if ((await attempt(() => follows.follow(details.owner_id))) !== undefined) {
          followButton.textContent = `Following ${details.owner_id}`;
          followButton.disabled = true;
        }
      },
    },
    `Follow ${details.owner_id}`,
  );
  const title = h("span", { "data-testid": "stream-title" }, details.title);
  const description = h("p", {}, details.description || "");
  const stage = giftStage();
  const chat = chatPanel(id, {
    onGift: stage.show,
    onStatus: (value) => {
      status.show(value);
      if (value === "ended" && video.dataset.playing === "live") {
        onLeave(playArchiveWhenReady(player, () => streams.get(id)));
      }
    },
    onCount: (n) => (count.textContent = String(n)),
    onUpdate: (frame) => {
      title.textContent = frame.title;
      description.textContent = frame.description || "";
      pageTitle(frame.title);
    },
  });
  onLeave(() => chat.close());
  main.replaceChildren(
    streamPage(
      chat,
      withGiftStage(video, stage),
      h("h1", {}, title, " ", status),
      h("div", { class: "meta" }, details.owner_id, " · ", count, " watching ", followButton),
      description,
      giftBar(id),
    ),
  );
}

function giftBar(id) {
  const bar = h(
    "div",
    { class: "gifts", role: "group", "aria-labelledby": "gift-label", "data-testid": "gift-bar" },
    h("span", { id: "gift-label" }, "Send a gift: "),
  );
  attempt(gifts.catalog).then((catalog) => {
    for (const item of catalog || []) {
      bar.append(
        h(
          "button",
          {
            class: "gift",
            dataset: { gift: item.gift_type },
            title: `${item.unit_price} ${item.currency}`,
            onclick: async (event) => {
              event.target.disabled = true;
              const receipt = await attempt(() =>
                gifts.send(id, { gift_type: item.gift_type, amount: 1 }, crypto.randomUUID()),
              );
              event.target.disabled = false;
              if (receipt) {
                const combo = receipt.streak_count > 1 ? `, combo ×${receipt.streak_count}` : "";
                notice(`You sent ${item.name} (${receipt.total_price} ${item.currency}${combo})`);
              }
            },
          },
          item.name,
        ),
      );
    }
  });
  return bar;
}
