// The streamer's moderation panel on the studio page of one stream: moderators, bans (each
// with a form that adds one), slow mode, blocked terms and the pinned announcement.

import { streams } from "../api.js";
import { attempt, h, notice } from "../dom.js";
import { blockedTermsPanel, pinPanel } from "./moderation-chat.js";

/**
 * @param {string} id the stream
 * @returns {{element: HTMLElement, refresh: () => Promise<void>}}
 */
export function moderationPanel(id) {
  const mods = h("ul", { class: "plain", "data-testid": "moderators" });
  const bans = h("ul", { class: "plain", "data-testid": "bans" });
  async function refresh() {
    const [m, b] = await Promise.all([
      attempt(() => streams.moderators(id)),
      attempt(() => streams.bans(id)),
    ]);
    if (m)
      mods.replaceChildren(
        ...m.map((x) =>
          h(
            "li",
            {},
            x.account_id,
            " ",
            h(
              "button",
              {
                class: "link",
                "aria-label": `Remove moderator ${x.account_id}`,
                onclick: async () => {
                  if (
                    (await attempt(() => streams.removeModerator(id, x.account_id))) !== undefined
                  )
                    refresh();
                },
              },
              "remove",
            ),
          ),
        ),
      );
    if (b)
      bans.replaceChildren(
        ...b.map((x) =>
          h(
            "li",
            {},
            x.account_id,
            x.expires_at
              ? ` (until ${new Date(x.expires_at).toLocaleTimeString()})`
              : " (permanent)",
            " ",
            h(
              "button",
              {
                class: "link",
                "aria-label": `Unban ${x.account_id}`,
                onclick: async () => {
                  if ((await attempt(() => streams.unban(id, x.account_id))) !== undefined)
                    refresh();
                },
              },
              "unban",
            ),
          ),
        ),
      );
  }
  const slowSelect = h(
    "select",
    { name: "slow-mode", "aria-label": "slow mode" },
    ...[0, 5, 10, 30, 60, 300].map((s) => h("option", { value: s }, s ? `${s} s` : "off")),
  );
  slowSelect.addEventListener("change", async () => {
    if ((await attempt(() => streams.slowMode(id, Number(slowSelect.value)))) !== undefined) {
      notice(Number(slowSelect.value) ? `Slow mode: ${slowSelect.value} s` : "Slow mode off");
    }
  });

  /** A list of accounts with a form that adds one (``submit(account)``), then refreshes. */
  function accountPanel(legend, list, label, buttonText, buttonClass, submit) {
    const input = h("input", { placeholder: "account id", "aria-label": label });
    const form = h(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          const account = input.value.trim();
          if (account && (await attempt(() => submit(account))) !== undefined) {
            input.value = "";
            refresh();
          }
        },
      },
      input,
      h("button", { type: "submit", class: buttonClass || null }, buttonText),
    );
    return h("fieldset", {}, h("legend", {}, legend), list, form);
  }

  const terms = blockedTermsPanel(id);
  const element = h(
    "div",
    { class: "moderation" },
    accountPanel("Moderators", mods, "moderator account", "Add moderator", "", (account) =>
      streams.addModerator(id, account),
    ),
    accountPanel("Bans", bans, "account to ban", "Ban", "danger", (account) =>
      streams.ban(id, { account_id: account }),
    ),
    h("fieldset", {}, h("legend", {}, "Slow mode"), slowSelect),
    terms.element,
    pinPanel(id),
  );
  return {
    element,
    refresh: () => Promise.all([refresh(), terms.refresh()]).then(() => undefined),
  };
}
