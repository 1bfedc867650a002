// Two more fieldsets of the studio's moderation panel: the stream's blocked terms (list, add
// with an optional expiry, remove) and the pinned announcement (pin a text, optionally for a
// while; take the pin down). Messages are pinned from the chat itself (chat-panel.js).

import { streams } from "../api.js";
import { attempt, h, notice } from "../dom.js";

const EXPIRIES = [
  [0, "no expiry"],
  [600, "10 min"],
  [3600, "1 hour"],
  [86400, "1 day"],
  [604800, "1 week"],
];

/** @returns {{element: HTMLElement, refresh: () => Promise<void>}} */
export function blockedTermsPanel(id) {
  const list = h("ul", { class: "plain", "data-testid": "blocked-terms" });
  async function refresh() {
    const terms = await attempt(() => streams.blockedTerms(id));
    if (!terms) return;
    list.replaceChildren(
      ...terms.map((t) =>
        h(
          "li",
          {},
          h("code", {}, t.term),
          t.expires_at ? ` (until ${new Date(t.expires_at).toLocaleString()})` : "",
          " ",
          h(
            "button",
            {
              class: "link",
              "aria-label": `Unblock ${t.term}`,
              onclick: async () => {
                if ((await attempt(() => streams.unblockTerm(id, t.term_id))) !== undefined)
                  refresh();
              },
            },
            "remove",
          ),
        ),
      ),
    );
  }
  const input = h("input", {
    placeholder: "word or phrase, * at an end for any ending",
    "aria-label": "term to block",
    maxlength: 102,
  });
  const expiry = h(
    "select",
    { "aria-label": "blocked term expiry" },
    ...EXPIRIES.map(([s, label]) => h("option", { value: s }, label)),
  );
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const term = input.value.trim();
        const duration_s = Number(expiry.value) || null;
        if (!term) return;
        if ((await attempt(() => streams.blockTerm(id, { term, duration_s }))) !== undefined) {
          input.value = "";
          refresh();
        }
      },
    },
    input,
    expiry,
    h("button", { type: "submit" }, "Block term"),
  );
  const element = h(
    "fieldset",
    {},
    h("legend", {}, "Blocked terms"),
    h("p", { class: "slow" }, "Viewers' messages containing one of these are not posted."),
    list,
    form,
  );
  return { element, refresh };
}

/** @returns {HTMLElement} */
export function pinPanel(id) {
  const text = h("input", { maxlength: 300, "aria-label": "announcement to pin" });
  const minutes = h(
    "select",
    { "aria-label": "pin for" },
    ...[
      [0, "until unpinned"],
      [5, "5 min"],
      [30, "30 min"],
      [120, "2 hours"],
    ].map(([m, label]) => h("option", { value: m }, label)),
  );
  const form = h(
    "form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const body = { text: text.value.trim() };
        if (!body.text) return;
        const m = Number(minutes.value);
        if (m) body.until = new Date(Date.now() + m * 60_000).toISOString();
        if ((await attempt(() => streams.pin(id, body))) !== undefined) {
          text.value = "";
          notice("Pinned");
        }
      },
    },
    text,
    minutes,
    h("button", { type: "submit" }, "Pin announcement"),
    " ",
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: async () => {
          if ((await attempt(() => streams.unpin(id))) !== undefined) notice("Pin taken down");
        },
      },
      "Unpin",
    ),
  );
  return h("fieldset", {}, h("legend", {}, "Pinned message"), form);
}
