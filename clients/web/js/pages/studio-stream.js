// Page "studio" of one stream (#/studio/{id}): go live / end / delete, the OBS settings with
// the stream key, moderation and the chat as its owner sees it.

import { streams } from "../api.js";
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
import { giftStage, giftTotalsPanel, withGiftStage } from "../gifts.js";
import { endedLately, Player, playArchiveWhenReady, playStream } from "../player.js";
import { followersOnlyControl } from "./followers-only.js";
import { moderationPanel } from "./moderation.js";

/** @param {{main: HTMLElement, onLeave: (fn: () => void) => void}} view @param {string} id */
export async function studioStream({ main, onLeave }, id) {
  let details = await attempt(() => streams.get(id));
  if (!details) {
    main.replaceChildren(h("p", { class: "empty" }, "This stream is not available."));
    return;
  }
  pageTitle(`Studio: ${details.title}`);
  const status = statusBadge(details.status);
  const count = h("span", { "data-testid": "viewer-count" }, String(details.viewer_count));
  const keyField = h("code", { "data-testid": "stream-key" }, "••••••••••••");
  const reveal = h(
    "button",
    {
      class: "secondary",
      "aria-label": "Reveal stream key",
      onclick: () => {
        const shown = reveal.textContent === "Hide";
        keyField.textContent = shown ? "••••••••••••" : details.stream_key || "(not available)";
        reveal.textContent = shown ? "Reveal" : "Hide";
        reveal.setAttribute("aria-label", `${reveal.textContent} stream key`);
      },
    },
    "Reveal",
  );
  const copy = h(
    "button",
    {
      class: "secondary",
      "aria-label": "Copy stream key",
      onclick: () =>
        navigator.clipboard.writeText(details.stream_key || "").then(
          () => notice("Stream key copied"),
          () => showError("the browser refused the clipboard; reveal the key and copy it"),
        ),
    },
    "Copy",
  );
  const resetKey = h(
    "button",
    {
      class: "secondary",
      "aria-label": "Reset key: make a new stream key",
      onclick: async () => {
        if (!confirm("Make a new stream key? The current one stops working at once.")) return;
        const reset = await attempt(() => streams.resetKey(id));
        if (!reset) return;
        details = { ...details, stream_key: reset.stream_key };
        if (reveal.textContent === "Hide") keyField.textContent = reset.stream_key;
        notice("New stream key made: update it in OBS");
      },
    },
    "Reset key",
  );
  const title = h("span", { "data-testid": "stream-title" }, details.title);
  const titleInput = h("input", {
    name: "new-title",
    value: details.title,
    maxlength: "100",
    required: true,
    "aria-label": "stream title",
  });
  const titleForm = h(
    "form",
    {
      class: "controls",
      onsubmit: async (event) => {
        event.preventDefault();
        const updated = await attempt(() => streams.update(id, { title: titleInput.value }));
        if (!updated) return;
        details = { ...details, ...updated, stream_key: details.stream_key };
        title.textContent = updated.title;
        pageTitle(`Studio: ${updated.title}`);
        notice("Title saved");
      },
    },
    titleInput,
    h("button", { type: "submit", class: "secondary" }, "Save title"),
  );
  const startButton = h("button", { onclick: () => change(streams.start) }, "Go live");
  const endButton = h(
    "button",
    { class: "danger", onclick: () => change(streams.end) },
    "End stream",
  );
  const deleteButton = h(
    "button",
    {
      class: "danger secondary",
      "aria-label": "Delete this stream",
      onclick: async () => {
        if (!confirm("Delete this stream for good?")) return;
        if ((await attempt(() => streams.remove(id))) !== undefined) location.hash = "#/studio";
      },
    },
    "Delete",
  );
  function showStatus(value) {
    status.show(value);
    startButton.disabled = value !== "idle";
    endButton.disabled = value !== "active";
    resetKey.disabled = value === "ended";
  }
  async function change(action) {
    const updated = await attempt(() => action(id));
    if (updated) {
      details = updated;
      showStatus(updated.status);
    }
  }
  showStatus(details.status);

  const player = new Player((msg) => showError(msg));
  const video = player.element;
  if (!playStream(player, details) && endedLately(details)) {
    onLeave(playArchiveWhenReady(player, () => streams.get(id)));
  }
  onLeave(() => player.destroy());

  const moderation = moderationPanel(id);
  const stage = giftStage();
  const received = giftTotalsPanel(id);
  const followersOnly = followersOnlyControl(id);
  const chat = chatPanel(id, {
    onGift: (frame) => {
      stage.show(frame);
      received.refresh();
    },
    onStatus: (value) => {
      showStatus(value);
      if (value === "ended" && video.dataset.playing === "live") {
        onLeave(playArchiveWhenReady(player, () => streams.get(id)));
      }
    },
    onCount: (n) => (count.textContent = String(n)),
    onFollowersOnly: followersOnly.show,
  });
  onLeave(() => chat.close());
  const refresh = setInterval(moderation.refresh, 10000);
  onLeave(() => clearInterval(refresh));

  main.replaceChildren(
    streamPage(
      chat,
      withGiftStage(video, stage),
      h("h1", {}, title, " ", status),
      h(
        "div",
        { class: "meta" },
        count,
        " watching · ",
        h("a", { href: `#/watch/${encodeURIComponent(id)}` }, "viewer page"),
      ),
      h("div", { class: "controls" }, startButton, endButton, deleteButton),
      titleForm,
      h(
        "fieldset",
        { class: "obs", "data-testid": "obs" },
        h("legend", {}, "OBS settings (Settings → Stream → Service: Custom)"),
        h("div", {}, "Server: ", h("code", { "data-testid": "rtmp-url" }, details.rtmp_url || "")),
        h("div", {}, "Stream key: ", keyField, " ", reveal, " ", copy, " ", resetKey),
        h("div", { class: "meta" }, "Keep the key secret: anyone with it can stream as you."),
      ),
      received.element,
      moderation.element,
      followersOnly.element,
    ),
  );
  moderation.refresh();
}
