// The studio's followers-only chat control (Twitch's followers-only mode): off, or only
// accounts that have followed the streamer for at least a minimum time (0 to 3 months) may
// post; everyone still reads. The owner and moderators are exempt. It shows the room's
// current mode (from the chat's hello and `followers_only` frames) and sets it with
// PUT /live/{id}/chat/followers-only.

import { streams } from "../api.js";
import { duration } from "../chat-panel.js";
import { attempt, h, notice } from "../dom.js";

// minutes; "off" turns the mode off
const CHOICES = [0, 10, 30, 60, 1440, 10080, 43200, 129600];

/**
 * @param {string} id the stream
 * @returns {{element: HTMLElement, show: (enabled: boolean, minutes: number) => void}}
 */
export function followersOnlyControl(id) {
  const select = h(
    "select",
    { name: "followers-only", "aria-label": "followers-only chat" },
    h("option", { value: "off" }, "off"),
    ...CHOICES.map((m) =>
      h("option", { value: String(m) }, m ? `followers of ${duration(m)}` : "any follower"),
    ),
  );
  select.addEventListener("change", async () => {
    const enabled = select.value !== "off";
    const body = { enabled, min_follow_minutes: enabled ? Number(select.value) : 0 };
    if ((await attempt(() => streams.followersOnly(id, body))) !== undefined) {
      const chosen = select.selectedOptions[0].text;
      notice(enabled ? `Followers-only chat: ${chosen}` : "Followers-only chat off");
    }
  });

  function show(enabled, minutes) {
    const value = enabled ? String(minutes) : "off";
    if (![...select.options].some((o) => o.value === value)) {
      select.append(h("option", { value }, `followers of ${duration(minutes)}`));
    }
    select.value = value;
  }

  const element = h(
    "fieldset",
    { "data-testid": "followers-only-control" },
    h("legend", {}, "Followers-only chat"),
    select,
  );
  return { element, show };
}
