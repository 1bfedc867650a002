// The chat panel of one stream (viewers, moderators and the streamer): the log, the input and,
// for the owner and moderators, an action on every message. The connection is ./chat.js.

import { session, streams } from "./api.js";
import { ChatConnection } from "./chat.js";
import { attempt, h, notice } from "./dom.js";
import { pinBanner } from "./pin.js";

/**
 * @param {string} id the stream
 * @param {{onStatus?: (status: string) => void, onCount?: (n: number) => void,
 *          onRole?: (role: string) => void, onUpdate?: (frame: object) => void,
 *          onGift?: (frame: import("../../types/api").GiftFrame) => void,
 *          onFollowersOnly?: (enabled: boolean, minFollowMinutes: number) => void}} hooks
 * @returns {{element: HTMLElement, close: () => void, connection: ChatConnection,
 *            role: () => string}}
 */
export function chatPanel(
  id,
  { onStatus, onCount, onRole, onUpdate, onGift, onFollowersOnly } = {},
) {
  const me = session().account;
  // the log region: named, polite (new lines are read out without moving focus), and focusable
  // so a keyboard can scroll it; the lines are a list inside it
  const lines = h("ol", { class: "chat-lines" });
  const log = h(
    "div",
    {
      class: "chat-log",
      role: "log",
      "aria-label": "Messages",
      "aria-live": "polite",
      tabindex: 0,
      "data-testid": "chat-log",
    },
    lines,
  );
  const state = h("div", { class: "chat-state", "data-testid": "chat-state" }, "Connecting…");
  const slow = h("div", { class: "slow", hidden: true });
  const followersOnly = h("div", {
    class: "followers-only",
    hidden: true,
    "data-testid": "followers-only",
  });
  const input = h("input", {
    name: "message",
    maxlength: 500,
    placeholder: "Say something…",
    autocomplete: "off",
    "aria-label": "chat message",
  });
  const sendButton = h("button", { type: "submit" }, "Send");
  const problem = h("div", { class: "chat-problem", role: "alert", "data-testid": "chat-problem" });
  const pin = pinBanner();
  let role = "viewer";
  let ended = false;
  let blocked = null;

  const setInputEnabled = () => {
    const reason = blocked || (ended ? "The stream has ended; chat is read-only." : null);
    input.disabled = sendButton.disabled = Boolean(reason);
    if (reason) problem.textContent = reason;
  };

  const mod = () => role === "owner" || role === "moderator";

  function line(m) {
    const actions = [];
    const textId = `chat-${id}-${m.message_id}`;
    if (mod()) {
      // every action names whom it acts on; delete is described by the message's text
      actions.push(
        h(
          "button",
          {
            class: "link",
            "aria-label": `Delete message from ${m.account_id}`,
            "aria-describedby": textId,
            onclick: () => conn.command({ type: "chat.delete", message_id: m.message_id }),
          },
          "delete",
        ),
        h(
          "button",
          {
            class: "link",
            "aria-label": `Pin message from ${m.account_id}`,
            "aria-describedby": textId,
            onclick: () => attempt(() => streams.pin(id, { message_id: m.message_id })),
          },
          "pin",
        ),
      );
      if (m.account_id !== me) {
        actions.push(
          h(
            "button",
            {
              class: "link",
              "aria-label": `Ban ${m.account_id}`,
              onclick: () => ban(m.account_id, null),
            },
            "ban",
          ),
          h(
            "button",
            {
              class: "link",
              "aria-label": `Time out ${m.account_id} for 5 minutes`,
              onclick: () => ban(m.account_id, 300),
            },
            "time out",
          ),
        );
      }
    }
    return h(
      "li",
      { class: "msg", dataset: { seq: m.seq, id: m.message_id } },
      h("b", {}, m.account_id),
      " ",
      h("span", { class: "text", id: textId }, m.text),
      actions.length ? h("span", { class: "mod" }, ...actions) : null,
    );
  }

  async function ban(account_id, duration_s) {
    if ((await attempt(() => streams.ban(id, { account_id, duration_s }))) !== undefined) {
      notice(
        duration_s ? `${account_id} timed out for ${duration_s / 60} min` : `${account_id} banned`,
      );
    }
  }

  /** Add a line; the log follows the newest line unless the person scrolled up to read. */
  function show(item) {
    const following = log.scrollHeight - log.scrollTop - log.clientHeight < 48;
    lines.append(item);
    while (lines.children.length > 300) lines.firstElementChild.remove();
    if (following) log.scrollTop = log.scrollHeight;
  }

  function append(m) {
    if (lines.querySelector(`[data-id="${CSS.escape(m.message_id)}"]`)) return;
    show(line(m));
  }

  const conn = new ChatConnection(
    id,
    () => session()?.token ?? null,
    (frame) => {
      switch (frame.type) {
        case "hello":
          role = frame.role;
          if (onRole) onRole(role);
          if (frame.reset || !log.dataset.started) lines.replaceChildren();
          log.dataset.started = "1";
          frame.messages.forEach(append);
          log.scrollTop = log.scrollHeight;
          onCount && onCount(frame.viewer_count);
          ended = frame.status === "ended";
          onStatus && onStatus(frame.status);
          showSlow(frame.slow_mode_s);
          pin.show(frame.pin ?? null);
          showFollowersOnly(frame.followers_only, frame.min_follow_minutes);
          setInputEnabled();
          break;
        case "pin":
          pin.show(frame.pin);
          break;
        case "chat.message":
          append(frame);
          break;
        case "chat.message_deleted":
          lines.querySelector(`[data-id="${CSS.escape(frame.message_id)}"]`)?.remove();
          break;
        case "gift":
          show(giftLine(frame));
          onGift && onGift(frame);
          break;
        case "viewer_count":
          onCount && onCount(frame.viewer_count);
          break;
        case "stream_status":
          ended = frame.status === "ended";
          onStatus && onStatus(frame.status);
          setInputEnabled();
          break;
        case "slow_mode":
          showSlow(frame.interval_s);
          break;
        case "followers_only":
          showFollowersOnly(frame.enabled, frame.min_follow_minutes);
          break;
        case "stream_updated":
          onUpdate && onUpdate(frame);
          break;
        case "moderation":
          if (frame.action === "unbanned") {
            blocked = null;
            problem.textContent = "You can chat again.";
          } else {
            const until = frame.expires_at
              ? ` until ${new Date(frame.expires_at).toLocaleTimeString()}`
              : "";
            blocked =
              frame.action === "banned" && !frame.expires_at
                ? "You are banned from this chat."
                : `You are timed out${until}.`;
          }
          setInputEnabled();
          break;
        case "chat.error":
          if (frame.reason === "blocked_term") {
            problem.textContent = `Not sent: ${frame.message}.`;
            if (frame.sent && !input.value) input.value = frame.sent; // to edit and resend
            break;
          }
          problem.textContent = refusal(frame);
          break;
        case "chat.ack":
          problem.textContent = "";
          break;
      }
    },
    ({ connected, final, retryIn }) => {
      if (connected) state.textContent = "Connected";
      else if (final) {
        state.textContent = "Disconnected";
        blocked = final;
        setInputEnabled();
      } else state.textContent = `Connection lost; reconnecting in ${retryIn.toFixed(1)} s…`;
      state.className = `chat-state ${connected ? "ok" : "down"}`;
    },
  );

  function showFollowersOnly(enabled, minutes) {
    followersOnly.hidden = !enabled;
    followersOnly.textContent = enabled
      ? `Followers-only chat${minutes ? `: followers of at least ${duration(minutes)}` : ""}`
      : "";
    onFollowersOnly && onFollowersOnly(Boolean(enabled), minutes || 0);
  }

  function showSlow(seconds) {
    slow.hidden = !seconds;
    slow.textContent = seconds ? `Slow mode: one message every ${seconds} s` : "";
  }

  const form = h(
    "form",
    {
      class: "chat-input",
      onsubmit: (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        conn.send(text);
        input.value = "";
      },
    },
    input,
    sendButton,
  );
  const element = h(
    "aside",
    { class: "chat", "aria-labelledby": "chat-heading", "data-testid": "chat" },
    h("header", {}, h("h2", { id: "chat-heading" }, "Chat"), state),
    slow,
    pin.element,
    followersOnly,
    log,
    problem,
    form,
  );
  return { element, close: () => conn.close(), connection: conn, role: () => role };
}

/** The chat line of a gift; a gift that continues a combo streak says how far it has got. */
function giftLine(frame) {
  const combo = frame.streak_count > frame.amount ? ` (combo ×${frame.streak_count})` : "";
  return h(
    "li",
    { class: "gift-line", "data-testid": "gift-line", dataset: { streak: frame.streak_id } },
    `★ ${frame.sender_id} sent ${frame.amount} × ${frame.gift_type}${combo}`,
  );
}

/** Why a frame was refused, in words for the person (the server's reason and message). */
function refusal(frame) {
  if (frame.reason === "followers_only") {
    const need = frame.min_follow_minutes ? ` for ${duration(frame.min_follow_minutes)}` : "";
    return frame.may_post_at
      ? `Followers-only chat: you can chat from ${new Date(frame.may_post_at).toLocaleString()}` +
          ` (once you have followed the streamer${need}).`
      : `Followers-only chat: follow the streamer${need} to chat.`;
  }
  return frame.retry_after_s
    ? `${frame.message} (try again in ${Math.ceil(frame.retry_after_s)} s)`
    : frame.message;
}

/** 10 -> "10 min", 90 -> "1 h 30 min", 1440 -> "1 day", 129600 -> "90 days". */
export function duration(minutes) {
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  return [
    days ? `${days} day${days === 1 ? "" : "s"}` : "",
    hours ? `${hours} h` : "",
    mins ? `${mins} min` : "",
  ]
    .filter(Boolean)
    .join(" ");
}
