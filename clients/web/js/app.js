// livecast web client: viewers (watch, chat, gifts) and streamers (studio, moderation).
// Plain ES modules, no build step; routes are URL hashes:
//   #/                 live now          #/watch/{id}   watch a stream
//   #/studio           your streams      #/studio/{id}  run one stream

import { ApiError, follows, gifts, session, signIn, signOut, streams } from "./api.js";
import { ChatConnection } from "./chat.js";
import { Player } from "./player.js";

const main = document.getElementById("main");
let cleanup = []; // run when leaving a view

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
    h("button", { class: "link", "aria-label": "dismiss", onclick: () => item.remove() }, "×"),
  );
  box.append(item);
  setTimeout(() => item.remove(), 12000);
}

function notice(text) {
  const item = h("div", { class: "notice", role: "status" }, text);
  document.getElementById("errors").append(item);
  setTimeout(() => item.remove(), 4000);
}

/** A status badge; `badge.show(status)` updates it. */
function statusBadge(value) {
  const badge = h("span", { "data-testid": "status" });
  badge.show = (v) => {
    badge.textContent = v;
    badge.className = `badge ${v}`;
  };
  badge.show(value);
  return badge;
}

/** Fill `list` with one card per stream (`content(stream)` gives its children), or say `empty`. */
function cards(list, items, empty, content) {
  list.replaceChildren(
    ...(items.length
      ? items.map((item) => h("li", { class: "card" }, ...content(item)))
      : [h("li", { class: "empty" }, empty)]),
  );
}

/** The page of one stream: the stage (video, title, controls) beside its chat. */
function streamPage(chat, ...stage) {
  return h("div", { class: "watch" }, h("section", { class: "stage" }, ...stage), chat.element);
}

/** Run an action, showing its error; returns its result or undefined. */
async function attempt(action) {
  try {
    return await action();
  } catch (err) {
    showError(err);
    return undefined;
  }
}

// ---- session -----------------------------------------------------------------------------------

function renderSession() {
  const bar = document.getElementById("session");
  bar.replaceChildren();
  const s = session();
  if (s) {
    bar.append(
      h("span", { class: "who", "data-testid": "account" }, `Signed in as ${s.account}`),
      h(
        "button",
        { class: "link", onclick: () => (signOut(), renderSession(), route()) },
        "Sign out",
      ),
    );
    return;
  }
  const input = h("input", {
    name: "token",
    placeholder: "paste a token (make token ACCOUNT=alice)",
    autocomplete: "off",
    "aria-label": "token",
  });
  const form = h(
    "form",
    {
      class: "signin",
      onsubmit: (event) => {
        event.preventDefault();
        try {
          signIn(input.value);
          renderSession();
          route();
        } catch (err) {
          showError(err);
        }
      },
    },
    input,
    h("button", { type: "submit" }, "Sign in"),
  );
  bar.append(form);
}

function needSession() {
  if (session()) return false;
  main.replaceChildren(
    h(
      "section",
      { class: "empty" },
      h("h2", {}, "Sign in"),
      h(
        "p",
        {},
        "Paste a local token in the box above. Get one with ",
        h("code", {}, "make token ACCOUNT=alice"),
        " (the token printed by make run works too).",
      ),
    ),
  );
  return true;
}

// ---- router ------------------------------------------------------------------------------------

async function route() {
  for (const fn of cleanup.splice(0)) {
    try {
      fn();
    } catch {
      /* leaving anyway */
    }
  }
  const parts = location.hash
    .replace(/^#\/?/, "")
    .split("/")
    .filter(Boolean)
    .map(decodeURIComponent);
  document.querySelectorAll("nav a").forEach((a) => {
    a.classList.toggle("active", (parts[0] || "") === a.dataset.route);
  });
  if (needSession()) return;
  if (parts[0] === "watch" && parts[1]) return watch(parts[1]);
  if (parts[0] === "studio" && parts[1]) return studioStream(parts[1]);
  if (parts[0] === "studio") return studio();
  return liveNow();
}

// ---- viewer: live now --------------------------------------------------------------------------

async function liveNow() {
  const list = h("ul", { class: "cards", "data-testid": "live-list" });
  main.replaceChildren(
    h(
      "section",
      {},
      h("h2", {}, "Live now"),
      h("button", { class: "secondary", onclick: () => fill() }, "Refresh"),
      list,
    ),
  );
  async function fill() {
    const page = await attempt(() => streams.list({ status: "active", limit: 50 }));
    if (!page) return;
    cards(list, page.items, "Nobody is live right now.", (s) => [
      h("a", { href: `#/watch/${encodeURIComponent(s.stream_id)}` }, s.title),
      h("div", { class: "meta" }, `${s.owner_id} · ${s.viewer_count} watching`),
      s.description ? h("p", {}, s.description) : null,
    ]);
  }
  await fill();
  const timer = setInterval(fill, 15000);
  cleanup.push(() => clearInterval(timer));
}

// ---- viewer: watch -----------------------------------------------------------------------------

async function watch(id) {
  main.replaceChildren(h("p", {}, "Loading…"));
  const [details, joined] = await Promise.all([
    attempt(() => streams.get(id)),
    attempt(() => streams.join(id)),
  ]);
  if (!details) {
    main.replaceChildren(h("p", { class: "empty" }, "This stream is not available."));
    return;
  }
  const status = statusBadge(details.status);
  const count = h(
    "span",
    { "data-testid": "viewer-count" },
    String(joined ? joined.viewer_count : details.viewer_count),
  );
  const video = h("video", {
    controls: true,
    muted: true,
    playsinline: true,
    "data-testid": "video",
  });
  const player = new Player(video, (msg) => showError(msg));
  if (joined && joined.status !== "ended") player.load(joined.playback_url);
  else if (details.archive_playback_url) player.load(details.archive_playback_url);
  cleanup.push(() => player.destroy());
  if (joined) {
    const beat = setInterval(() => streams.heartbeat(id).catch(() => {}), 10000);
    cleanup.push(() => {
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
  const chat = chatPanel(id, {
    onStatus: (value) => {
      status.show(value);
      if (value === "ended") player.stop();
    },
    onCount: (n) => (count.textContent = String(n)),
  });
  cleanup.push(() => chat.close());
  main.replaceChildren(
    streamPage(
      chat,
      video,
      h("h2", {}, details.title, " ", status),
      h("div", { class: "meta" }, details.owner_id, " · ", count, " watching ", followButton),
      details.description ? h("p", {}, details.description) : null,
      giftBar(id),
    ),
  );
}

function giftBar(id) {
  const bar = h(
    "div",
    { class: "gifts", "data-testid": "gift-bar" },
    h("span", {}, "Send a gift: "),
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
              if (receipt)
                notice(`You sent ${item.name} (${receipt.total_price} ${item.currency})`);
            },
          },
          item.name,
        ),
      );
    }
  });
  return bar;
}

// ---- chat panel (viewers, moderators and the streamer) -----------------------------------------

function chatPanel(id, { onStatus, onCount, onRole } = {}) {
  const me = session().account;
  const log = h("ol", { class: "chat-log", "data-testid": "chat-log", "aria-live": "polite" });
  const state = h("div", { class: "chat-state", "data-testid": "chat-state" }, "Connecting…");
  const slow = h("div", { class: "slow", hidden: true });
  const input = h("input", {
    name: "message",
    maxlength: 500,
    placeholder: "Say something…",
    autocomplete: "off",
    "aria-label": "chat message",
  });
  const sendButton = h("button", { type: "submit" }, "Send");
  const problem = h("div", { class: "chat-problem", role: "alert", "data-testid": "chat-problem" });
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
    if (mod()) {
      actions.push(
        h(
          "button",
          {
            class: "link",
            title: "delete",
            onclick: () => conn.command({ type: "chat.delete", message_id: m.message_id }),
          },
          "delete",
        ),
      );
      if (m.account_id !== me) {
        actions.push(
          h(
            "button",
            { class: "link", title: "ban", onclick: () => ban(m.account_id, null) },
            "ban",
          ),
          h(
            "button",
            { class: "link", title: "time out 5 minutes", onclick: () => ban(m.account_id, 300) },
            "timeout",
          ),
        );
      }
    }
    return h(
      "li",
      { class: "msg", dataset: { seq: m.seq, id: m.message_id } },
      h("b", {}, m.account_id),
      " ",
      h("span", { class: "text" }, m.text),
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

  function append(m) {
    if (log.querySelector(`[data-id="${CSS.escape(m.message_id)}"]`)) return;
    log.append(line(m));
    while (log.children.length > 300) log.firstElementChild.remove();
    log.scrollTop = log.scrollHeight;
  }

  const conn = new ChatConnection(
    id,
    () => session()?.token ?? null,
    (frame) => {
      switch (frame.type) {
        case "hello":
          role = frame.role;
          if (onRole) onRole(role);
          if (frame.reset || !log.dataset.started) log.replaceChildren();
          log.dataset.started = "1";
          frame.messages.forEach(append);
          onCount && onCount(frame.viewer_count);
          ended = frame.status === "ended";
          onStatus && onStatus(frame.status);
          showSlow(frame.slow_mode_s);
          setInputEnabled();
          break;
        case "chat.message":
          append(frame);
          break;
        case "chat.message_deleted":
          log.querySelector(`[data-id="${CSS.escape(frame.message_id)}"]`)?.remove();
          break;
        case "gift": {
          const item = h(
            "li",
            { class: "gift-line", "data-testid": "gift-line" },
            `★ ${frame.sender_id} sent ${frame.amount} × ${frame.gift_type}`,
          );
          log.append(item);
          log.scrollTop = log.scrollHeight;
          break;
        }
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
          problem.textContent = frame.retry_after_s
            ? `${frame.message} (try again in ${Math.ceil(frame.retry_after_s)} s)`
            : frame.message;
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
    { class: "chat", "data-testid": "chat" },
    h("header", {}, h("h3", {}, "Chat"), state),
    slow,
    log,
    problem,
    form,
  );
  return { element, close: () => conn.close(), connection: conn, role: () => role };
}

// ---- streamer: studio --------------------------------------------------------------------------

async function studio() {
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
  main.replaceChildren(h("section", {}, h("h2", {}, "Your streams"), form, list));
  const page = await attempt(() => streams.list({ owner: me, status: "all", limit: 50 }));
  if (!page) return;
  cards(list, page.items, "No streams yet: create one above.", (s) => [
    h("a", { href: `#/studio/${encodeURIComponent(s.stream_id)}` }, s.title),
    " ",
    h("span", { class: `badge ${s.status}` }, s.status),
    h("div", { class: "meta" }, `created ${new Date(s.created_at).toLocaleString()}`),
  ]);
}

async function studioStream(id) {
  let details = await attempt(() => streams.get(id));
  if (!details) {
    main.replaceChildren(h("p", { class: "empty" }, "This stream is not available."));
    return;
  }
  const status = statusBadge(details.status);
  const count = h("span", { "data-testid": "viewer-count" }, String(details.viewer_count));
  const keyField = h("code", { "data-testid": "stream-key" }, "••••••••••••");
  const reveal = h(
    "button",
    {
      class: "secondary",
      onclick: () => {
        const shown = reveal.textContent === "Hide";
        keyField.textContent = shown ? "••••••••••••" : details.stream_key || "(not available)";
        reveal.textContent = shown ? "Reveal" : "Hide";
      },
    },
    "Reveal",
  );
  const copy = h(
    "button",
    {
      class: "secondary",
      onclick: () =>
        navigator.clipboard.writeText(details.stream_key || "").then(
          () => notice("Stream key copied"),
          () => showError("the browser refused the clipboard; reveal the key and copy it"),
        ),
    },
    "Copy",
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
  }
  async function change(action) {
    const updated = await attempt(() => action(id));
    if (updated) {
      details = updated;
      showStatus(updated.status);
    }
  }
  showStatus(details.status);

  const video = h("video", {
    controls: true,
    muted: true,
    playsinline: true,
    "data-testid": "video",
  });
  const player = new Player(video, (msg) => showError(msg));
  player.load(details.playback_url);
  cleanup.push(() => player.destroy());

  const mods = h("ul", { class: "plain", "data-testid": "moderators" });
  const bans = h("ul", { class: "plain", "data-testid": "bans" });
  async function refreshModeration() {
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
                onclick: async () => {
                  if (
                    (await attempt(() => streams.removeModerator(id, x.account_id))) !== undefined
                  )
                    refreshModeration();
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
                onclick: async () => {
                  if ((await attempt(() => streams.unban(id, x.account_id))) !== undefined)
                    refreshModeration();
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

  const chat = chatPanel(id, {
    onStatus: showStatus,
    onCount: (n) => (count.textContent = String(n)),
  });
  cleanup.push(() => chat.close());
  const refresh = setInterval(refreshModeration, 10000);
  cleanup.push(() => clearInterval(refresh));

  main.replaceChildren(
    streamPage(
      chat,
      video,
      h("h2", {}, details.title, " ", status),
      h(
        "div",
        { class: "meta" },
        count,
        " watching · ",
        h("a", { href: `#/watch/${encodeURIComponent(id)}` }, "viewer page"),
      ),
      h("div", { class: "controls" }, startButton, endButton, deleteButton),
      h(
        "fieldset",
        { class: "obs", "data-testid": "obs" },
        h("legend", {}, "OBS settings (Settings → Stream → Service: Custom)"),
        h("div", {}, "Server: ", h("code", { "data-testid": "rtmp-url" }, details.rtmp_url || "")),
        h("div", {}, "Stream key: ", keyField, " ", reveal, " ", copy),
        h("div", { class: "meta" }, "Keep the key secret: anyone with it can stream as you."),
      ),
      h(
        "div",
        { class: "moderation" },
        accountPanel("Moderators", mods, "moderator account", "Add moderator", "", (account) =>
          streams.addModerator(id, account),
        ),
        accountPanel("Bans", bans, "account to ban", "Ban", "danger", (account) =>
          streams.ban(id, { account_id: account }),
        ),
        h("fieldset", {}, h("legend", {}, "Slow mode"), slowSelect),
      ),
    ),
  );
  refreshModeration();

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
            refreshModeration();
          }
        },
      },
      input,
      h("button", { type: "submit", class: buttonClass || null }, buttonText),
    );
    return h("fieldset", {}, h("legend", {}, legend), list, form);
  }
}

// ---- start -------------------------------------------------------------------------------------

window.addEventListener("hashchange", route);
window.addEventListener("pagehide", () => cleanup.splice(0).forEach((fn) => fn()));
renderSession();
route();
