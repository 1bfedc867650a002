// REST client of the livecast gateway (same origin), and the local session (a bearer token).
// Types: clients/types/api.ts (generated from libs/contracts).

const TOKEN_KEY = "livecast.token";
// A request the server shed (503 + Retry-After, body error "overloaded": nothing was done) is
// sent again after the wait it asked for, at most this many times; so is a GET answered 503.
const RETRIES = 2;
const MAX_RETRY_WAIT_S = 10;

export class ApiError extends Error {
  /**
   * @param {number} status @param {string} code @param {string} message
   * @param {number | null} [retryAfterS] the server's Retry-After, in seconds
   */
  constructor(status, code, message, retryAfterS = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfterS = retryAfterS;
  }
}

/** Seconds a response asks the client to wait (Retry-After: seconds or an HTTP date), or null. */
function retryAfter(response) {
  const value = response.headers.get("Retry-After");
  if (value === null || value.trim() === "") return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, (when - Date.now()) / 1000);
}

/** The signed-in account: the JWT's `sub`, or null. The token is checked by the server only. */
export function session() {
  const token = localStorage.getItem(TOKEN_KEY);
  if (!token) return null;
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    if (payload.exp && payload.exp * 1000 < Date.now()) return null;
    return { token, account: String(payload.sub) };
  } catch {
    return null;
  }
}

/**
 * Store a pasted token once the server accepts it; rejects with ApiError if it is not a JWT
 * with a subject, or the server refuses it (another stack's secret, `alg: none`, expired).
 */
export async function signIn(token) {
  const clean = token.trim().replace(/^Bearer\s+/i, "");
  localStorage.setItem(TOKEN_KEY, clean);
  if (!session()) {
    localStorage.removeItem(TOKEN_KEY);
    throw new ApiError(0, "invalid_token", "that is not a valid, unexpired livecast token");
  }
  try {
    await notifications.unread(); // the cheapest authenticated call
  } catch (err) {
    if (err.status !== 401) return; // the server is unwell, not the token: keep it
    localStorage.removeItem(TOKEN_KEY);
    throw new ApiError(401, err.code, `the server refused this token: ${err.message}`);
  }
}

/** Dispatched on `window` when the server refuses the stored token (it is then forgotten). */
export const SIGNED_OUT = "livecast:signed-out";

export function signOut() {
  localStorage.removeItem(TOKEN_KEY);
}

/**
 * Call the API; resolves to the JSON body (or null for 204), rejects with ApiError carrying
 * the server's `{error, message}` body and its Retry-After. Honours Retry-After: a shed request
 * (or a GET answered 503) is retried after the server's wait, with a little jitter.
 */
export async function api(method, path, body, headers = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(method, path, body, headers);
    } catch (err) {
      const wait = err instanceof ApiError ? err.retryAfterS : null;
      const retryable =
        err instanceof ApiError &&
        err.status === 503 &&
        (err.code === "overloaded" || method === "GET");
      if (!retryable || wait === null || wait > MAX_RETRY_WAIT_S || attempt >= RETRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000 + Math.random() * 250));
    }
  }
}

async function once(method, path, body, headers) {
  const s = session();
  const init = {
    method,
    headers: { Accept: "application/json", ...headers },
    keepalive: method !== "GET" && body === undefined,
  };
  if (s) init.headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "network_error", `could not reach the server (${err.message})`);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    /* a body that is not JSON */
  }
  if (response.status === 401 && s && session()?.token === s.token) {
    signOut(); // the server refuses this token (expired, another stack's): sign in again
    window.dispatchEvent(new Event(SIGNED_OUT));
  }
  if (!response.ok) {
    const message =
      (data && (data.message || data.detail)) || `${response.status} ${response.statusText}`;
    const code = (data && data.error) || "http_error";
    throw new ApiError(response.status, code, message, retryAfter(response));
  }
  return data;
}

/** This tab's presence session: leaving here ends only this tab's (viewer-svc). */
const TAB_SESSION = crypto.randomUUID();

export const streams = {
  /** @returns {Promise<import("../../types/api").PageLiveStreamSummary>} */
  list: (params) => api("GET", `/live?${new URLSearchParams(params)}`),
  /** @returns {Promise<import("../../types/api").LiveStreamDetails>} */
  get: (id) => api("GET", `/live/${encodeURIComponent(id)}`),
  /** @returns {Promise<import("../../types/api").CreateLiveStreamResponse>} */
  create: (body) => api("POST", "/live", body, { "Idempotency-Key": crypto.randomUUID() }),
  /** @param {import("../../types/api").UpdateLiveStreamRequest} body */
  update: (id, body) => api("PATCH", `/live/${encodeURIComponent(id)}`, body),
  /** @returns {Promise<import("../../types/api").StreamKeyReset>} */
  resetKey: (id) => api("POST", `/live/${encodeURIComponent(id)}/reset-stream-key`),
  start: (id) => api("PUT", `/live/${encodeURIComponent(id)}/start`),
  end: (id) => api("PUT", `/live/${encodeURIComponent(id)}/end`),
  remove: (id) => api("DELETE", `/live/${encodeURIComponent(id)}`),
  /** @returns {Promise<import("../../types/api").JoinLiveStreamResponse>} */
  join: (id) => api("POST", `/live/${encodeURIComponent(id)}/join?session_id=${TAB_SESSION}`),
  heartbeat: (id) =>
    api("POST", `/live/${encodeURIComponent(id)}/heartbeat?session_id=${TAB_SESSION}`),
  leave: (id) => api("POST", `/live/${encodeURIComponent(id)}/leave?session_id=${TAB_SESSION}`),
  moderators: (id) => api("GET", `/live/${encodeURIComponent(id)}/moderators`),
  addModerator: (id, account_id) =>
    api("POST", `/live/${encodeURIComponent(id)}/moderators`, { account_id }),
  removeModerator: (id, account) =>
    api("DELETE", `/live/${encodeURIComponent(id)}/moderators/${encodeURIComponent(account)}`),
  bans: (id) => api("GET", `/live/${encodeURIComponent(id)}/bans`),
  /** @param {import("../../types/api").BanRequest} body */
  ban: (id, body) => api("POST", `/live/${encodeURIComponent(id)}/bans`, body),
  unban: (id, account) =>
    api("DELETE", `/live/${encodeURIComponent(id)}/bans/${encodeURIComponent(account)}`),
  slowMode: (id, interval_s) =>
    api("PUT", `/live/${encodeURIComponent(id)}/chat/slow-mode`, { interval_s }),
  /** @returns {Promise<import("../../types/api").BlockedTermView[]>} */
  blockedTerms: (id) => api("GET", `/live/${encodeURIComponent(id)}/blocked-terms`),
  /** @param {import("../../types/api").BlockedTermRequest} body */
  blockTerm: (id, body) => api("POST", `/live/${encodeURIComponent(id)}/blocked-terms`, body),
  unblockTerm: (id, termId) =>
    api("DELETE", `/live/${encodeURIComponent(id)}/blocked-terms/${encodeURIComponent(termId)}`),
  /** @param {import("../../types/api").PinRequest} body */
  pin: (id, body) => api("PUT", `/live/${encodeURIComponent(id)}/chat/pin`, body),
  unpin: (id) => api("DELETE", `/live/${encodeURIComponent(id)}/chat/pin`),
  /** @param {import("../../types/api").FollowersOnlyRequest} body */
  followersOnly: (id, body) =>
    api("PUT", `/live/${encodeURIComponent(id)}/chat/followers-only`, body),
};

export const gifts = {
  /** @returns {Promise<import("../../types/api").GiftCatalogItem[]>} */
  catalog: () => api("GET", "/gifts/catalog"),
  /** @param {import("../../types/api").SendGiftRequest} body */
  send: (id, body, key) =>
    api("POST", `/live/${encodeURIComponent(id)}/gift`, body, { "Idempotency-Key": key }),
  /** The owner: gifts received, totals per sender.
   * @returns {Promise<import("../../types/api").GiftSummary>} */
  summary: (id) => api("GET", `/live/${encodeURIComponent(id)}/gifts/summary`),
};

export const follows = {
  follow: (account) => api("PUT", `/users/${encodeURIComponent(account)}/follow`),
  unfollow: (account) => api("DELETE", `/users/${encodeURIComponent(account)}/follow`),
};

export const notifications = {
  /** Newest first. @returns {Promise<import("../../types/api").PageNotificationView>} */
  list: (params) => api("GET", `/notifications?${new URLSearchParams(params)}`),
  /** @returns {Promise<import("../../types/api").UnreadCount>} */
  unread: () => api("GET", "/notifications/unread-count"),
  /**
   * Long poll: answered when the count differs from `known`, or after `waitS` seconds.
   * @returns {Promise<import("../../types/api").UnreadCount>}
   */
  unreadChange: (known, waitS) =>
    api("GET", `/notifications/unread-count?${new URLSearchParams({ known, wait_s: waitS })}`),
  /** @param {import("../../types/api").MarkReadRequest} body */
  markRead: (body) => api("POST", "/notifications/read", body),
};
