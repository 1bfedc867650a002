/* Generated from libs/contracts by `make types` (scripts/gen_types.py); do not edit.
 * Every REST body and WebSocket frame of livecast. Times are ISO 8601 strings. */

/**
 * Any client -> server WebSocket frame of WS /ws/live/{stream_id}, discriminated by `type`.
 */
export type ClientFrame = ChatSend | ChatDelete | SlowModeSet | FollowersOnlySet | Ping;
/**
 * Lifecycle of a live stream. Forward-only: ``idle -> active -> ended``; ``deleted`` is
 * terminal from any state.
 */
export type StreamStatus = "idle" | "active" | "ended" | "deleted";
/**
 * Any server -> client WebSocket frame of WS /ws/live/{stream_id}, discriminated by `type`.
 */
export type ServerFrame =
  | Hello
  | ChatMessageFrame
  | ChatAck
  | ChatError
  | ChatMessageDeletedFrame
  | GiftFrame
  | ViewerCountFrame
  | StreamStatusFrame
  | StreamUpdatedFrame
  | ModerationFrame
  | SlowModeFrame
  | PinFrame
  | FollowersOnlyFrame
  | Pong;

/**
 * Every REST body and WebSocket frame of livecast, by name.
 */
export interface LivecastApi {
  AccountUsage?: AccountUsage;
  AddModeratorRequest?: AddModeratorRequest;
  BanChange?: BanChange;
  BanLifted?: BanLifted;
  BanRequest?: BanRequest;
  BanView?: BanView;
  BlockedTermChange?: BlockedTermChange;
  BlockedTermRequest?: BlockedTermRequest;
  BlockedTermView?: BlockedTermView;
  ChatAck?: ChatAck;
  ChatConnectionView?: ChatConnectionView;
  ChatConnections?: ChatConnections;
  ChatDelete?: ChatDelete;
  ChatError?: ChatError;
  ChatMessage?: ChatMessage;
  ChatMessageDeletedFrame?: ChatMessageDeletedFrame;
  ChatMessageFrame?: ChatMessageFrame;
  ChatSend?: ChatSend;
  ClientFrame?: ClientFrame;
  CreateLiveStreamRequest?: CreateLiveStreamRequest;
  CreateLiveStreamResponse?: CreateLiveStreamResponse;
  ErrorBody?: ErrorBody;
  FollowResult?: FollowResult;
  FollowerCount?: FollowerCount;
  FollowersOnlyFrame?: FollowersOnlyFrame;
  FollowersOnlyRequest?: FollowersOnlyRequest;
  FollowersOnlySet?: FollowersOnlySet;
  FollowingEntry?: FollowingEntry;
  GiftCatalogItem?: GiftCatalogItem;
  GiftFrame?: GiftFrame;
  GiftReceipt?: GiftReceipt;
  GiftSenderTotal?: GiftSenderTotal;
  GiftSummary?: GiftSummary;
  Hello?: Hello;
  JoinLiveStreamResponse?: JoinLiveStreamResponse;
  LiveStreamDetails?: LiveStreamDetails;
  LiveStreamSummary?: LiveStreamSummary;
  MarkReadRequest?: MarkReadRequest;
  MarkReadResult?: MarkReadResult;
  ModerationFrame?: ModerationFrame;
  ModerationLogEntry?: ModerationLogEntry;
  ModeratorChange?: ModeratorChange;
  ModeratorView?: ModeratorView;
  NotificationView?: NotificationView;
  PageChatMessage?: PageChatMessage;
  PageFollowingEntry?: PageFollowingEntry;
  PageLiveStreamSummary?: PageLiveStreamSummary;
  PageModerationLogEntry?: PageModerationLogEntry;
  PageNotificationView?: PageNotificationView;
  PinFrame?: PinFrame;
  PinRequest?: PinRequest;
  Ping?: Ping;
  PinnedMessage?: PinnedMessage;
  Pong?: Pong;
  PostedChatMessage?: PostedChatMessage;
  SendGiftRequest?: SendGiftRequest;
  SendLiveChatRequest?: SendLiveChatRequest;
  ServerFrame?: ServerFrame;
  SlowModeFrame?: SlowModeFrame;
  SlowModeRequest?: SlowModeRequest;
  SlowModeSet?: SlowModeSet;
  StreamKeyReset?: StreamKeyReset;
  StreamStatus?: StreamStatus;
  StreamStatusFrame?: StreamStatusFrame;
  StreamUpdatedFrame?: StreamUpdatedFrame;
  StreamUsage?: StreamUsage;
  UnreadCount?: UnreadCount;
  UpdateLiveStreamRequest?: UpdateLiveStreamRequest;
  UsageCost?: UsageCost;
  UsageEstimated?: UsageEstimated;
  UsageMeasured?: UsageMeasured;
  UsageReport?: UsageReport;
  ViewerCountFrame?: ViewerCountFrame;
}
/**
 * ``GET /me/usage[?from=&to=]``: every stream of the caller, deleted ones included.
 */
export interface AccountUsage {
  from: string | null;
  to: string | null;
  measured: UsageMeasured;
  estimated: UsageEstimated;
  basis: {
    [k: string]: unknown;
  };
  account_id: string;
  /**
   * streams that existed at some time in the window
   */
  streams: number;
}
/**
 * Figures Mux measured, over the window.
 */
export interface UsageMeasured {
  /**
   * seconds the live stream was active (Mux bills live input by it): video.live_stream.active to idle, the reconnect window included, or to deletion
   */
  seconds_streamed: number;
  minutes_streamed: number;
  /**
   * recordings stored at some time in the window
   */
  recordings: number;
  /**
   * their duration
   */
  recording_minutes: number;
}
/**
 * Figures we estimate: delivered minutes from viewer counts, and the cost.
 */
export interface UsageEstimated {
  viewer_minutes: number;
  /**
   * recording minutes x the share of each month stored in the window
   */
  storage_minute_months: number;
  cost_usd: UsageCost;
}
/**
 * Estimated Mux cost in USD over the window (unrounded; adds up across windows).
 */
export interface UsageCost {
  live_encoding: number;
  delivery: number;
  storage: number;
  total: number;
}
/**
 * ``POST /live/{stream_id}/moderators``.
 */
export interface AddModeratorRequest {
  account_id: string;
}
/**
 * ``POST /live/{stream_id}/bans`` response: 201 with ``changed: true`` for a new ban (or
 * new terms); 200 with ``changed: false`` when the same ban (same duration, same reason) is
 * already in force: then nothing is logged, announced or notified, and the ban in force is
 * returned.
 */
export interface BanChange {
  account_id: string;
  by: string;
  at: string;
  expires_at: string | null;
  reason: string | null;
  changed: boolean;
}
/**
 * ``DELETE /live/{stream_id}/bans/{account_id}`` when the account was not banned: 200 with
 * ``changed: false`` (nothing logged or announced). A lifted ban answers 204.
 */
export interface BanLifted {
  account_id: string;
  banned: boolean;
  changed: boolean;
}
/**
 * ``POST /live/{stream_id}/bans``: without ``duration_s`` the ban lasts until lifted;
 * with it, it is a timeout.
 */
export interface BanRequest {
  account_id: string;
  duration_s?: number | null;
  reason?: string | null;
}
export interface BanView {
  account_id: string;
  by: string;
  at: string;
  expires_at: string | null;
  reason: string | null;
}
/**
 * ``POST /live/{stream_id}/blocked-terms`` response: 201 with ``changed: true`` when the
 * term was added (or given another expiry: a new duration counts from now), 200 with
 * ``changed: false`` when the same term is in force already on the same terms (both without
 * expiry, or the same ``duration_s``: a repeat does not extend it); then nothing is logged
 * or announced and the term in force is returned.
 */
export interface BlockedTermChange {
  term_id: string;
  term: string;
  by: string;
  at: string;
  expires_at: string | null;
  changed: boolean;
}
/**
 * ``POST /live/{stream_id}/blocked-terms``: block ``term`` (2-100 characters, optional
 * ``*`` at either end), for ``duration_s`` seconds if given (else until removed).
 */
export interface BlockedTermRequest {
  term: string;
  duration_s?: number | null;
}
/**
 * One blocked term (``GET /live/{stream_id}/blocked-terms``, owner and moderators).
 */
export interface BlockedTermView {
  term_id: string;
  term: string;
  by: string;
  at: string;
  expires_at: string | null;
}
/**
 * Your ``chat.send`` was stored as ``seq``.
 */
export interface ChatAck {
  type: "chat.ack";
  client_msg_id: string;
  message_id: string;
  seq: number;
}
/**
 * One open chat connection and the gateway instance holding it.
 */
export interface ChatConnectionView {
  account_id: string;
  instance: string;
  connected_at: string;
}
/**
 * ``GET /live/{stream_id}/chat/connections`` (owner or moderator).
 */
export interface ChatConnections {
  items: ChatConnectionView[];
}
/**
 * Owner or moderator: delete a message by id.
 */
export interface ChatDelete {
  type: "chat.delete";
  message_id: string;
}
/**
 * Your frame was refused; ``reason`` is a code, ``message`` says why (``blocked_term``:
 * the message contains a term blocked in this chat; it was not posted).
 *
 * ``followers_only`` refusals also carry ``min_follow_minutes`` and ``may_post_at``: when
 * the viewer's follow will be old enough, or ``null`` when they do not follow yet.
 */
export interface ChatError {
  type: "chat.error";
  reason: string;
  message: string;
  client_msg_id: string | null;
  retry_after_s: number | null;
  min_follow_minutes: number | null;
  may_post_at: string | null;
}
/**
 * One message in chat history.
 */
export interface ChatMessage {
  message_id: string;
  stream_id: string;
  seq: number;
  account_id: string;
  text: string;
  posted_at: string;
}
/**
 * Remove this message from the view.
 */
export interface ChatMessageDeletedFrame {
  type: "chat.message_deleted";
  message_id: string;
  seq: number;
}
/**
 * A chat message, live or replayed; ``seq`` is gap-free per stream.
 */
export interface ChatMessageFrame {
  type: "chat.message";
  message_id: string;
  seq: number;
  account_id: string;
  text: string;
  posted_at: string;
}
/**
 * Post a chat message (the plan's ``SendLiveChatRequest { message }``, as over REST).
 * ``client_msg_id`` makes a resend safe: the same id with the same message is a replay (the
 * original ack), with another message it is refused (``idempotency_key_reused``).
 */
export interface ChatSend {
  type: "chat.send";
  client_msg_id: string;
  message: string;
}
/**
 * Owner or moderator: set slow mode (``0`` turns it off).
 */
export interface SlowModeSet {
  type: "slow_mode.set";
  interval_s: number;
}
/**
 * Owner or moderator: turn followers-only chat on (viewers must have followed the
 * streamer for at least ``min_follow_minutes``, 0 to 129,600 = 3 months) or off.
 */
export interface FollowersOnlySet {
  type: "followers_only.set";
  enabled: boolean;
  min_follow_minutes?: number;
}
/**
 * Application-level ping; answered by ``pong`` with the same nonce.
 */
export interface Ping {
  type: "ping";
  nonce?: string | null;
}
/**
 * ``POST /live`` body (the original plan's shape).
 */
export interface CreateLiveStreamRequest {
  title: string;
  description?: string | null;
  /**
   * https URL of an image on a public host
   */
  thumbnail?: string | null;
}
/**
 * ``POST /live`` response: what OBS needs (``rtmp_url`` + ``stream_key``) and what players
 * need (``playback_url``).
 */
export interface CreateLiveStreamResponse {
  stream_id: string;
  stream_key: string;
  rtmp_url: string;
  playback_url: string;
}
/**
 * Every 4xx/5xx response body.
 */
export interface ErrorBody {
  /**
   * machine-readable code, e.g. 'not_found'
   */
  error: string;
  /**
   * what is wrong, for a person
   */
  message: string;
  details:
    | {
        [k: string]: unknown;
      }[]
    | {
        [k: string]: unknown;
      }
    | null;
}
/**
 * ``PUT /users/{account_id}/follow`` response; ``changed`` is false on a repeat.
 */
export interface FollowResult {
  account_id: string;
  following: boolean;
  changed: boolean;
}
/**
 * ``GET /users/{account_id}/followers/count``.
 */
export interface FollowerCount {
  account_id: string;
  followers: number;
}
/**
 * Followers-only chat changed (``enabled`` false: anyone may post).
 */
export interface FollowersOnlyFrame {
  type: "followers_only";
  enabled: boolean;
  min_follow_minutes: number;
}
/**
 * ``PUT /live/{stream_id}/chat/followers-only`` body: ``enabled`` turns the mode on or
 * off; ``min_follow_minutes`` (0 to 129,600 = 3 months) is how long a viewer must have
 * followed the streamer before posting.
 */
export interface FollowersOnlyRequest {
  enabled: boolean;
  min_follow_minutes?: number;
}
/**
 * One account in ``GET /me/following``.
 */
export interface FollowingEntry {
  account_id: string;
  since: string;
}
/**
 * One entry of ``GET /gifts/catalog``.
 */
export interface GiftCatalogItem {
  gift_type: string;
  name: string;
  unit_price: number;
  currency: string;
  /**
   * animation id a client plays (e.g. 'rose-float')
   */
  animation: string;
  /**
   * 1 (small) to 5 (biggest): the animation's size
   */
  tier: number;
  /**
   * how long the animation is shown, in ms
   */
  display_ms: number;
  /**
   * the same sender sending this gift again within this many seconds of their last one continues the same combo streak
   */
  streak_window_s: number;
}
/**
 * Someone sent a gift in the room, with what a client needs to animate it.
 *
 * ``animation``, ``tier`` and ``display_ms`` come by value (from the catalog when the gift was
 * stored). A **combo streak**: the same sender sending the same gift again within the
 * catalog's ``streak_window_s`` of their previous one continues that streak; ``streak_id``
 * names it and ``streak_count`` is the number of gifts in it so far (the sum of ``amount``),
 * decided once where the gift is stored, so every client on every instance shows the same
 * streak. A client shows one counter per ``streak_id`` and keeps the highest count seen.
 */
export interface GiftFrame {
  type: "gift";
  gift_id: string;
  sender_id: string;
  gift_type: string;
  amount: number;
  sent_at: string;
  animation: string;
  tier: number;
  display_ms: number;
  streak_id: string;
  streak_count: number;
}
/**
 * ``POST /live/{stream_id}/gift`` response; the same for a retried ``Idempotency-Key``.
 */
export interface GiftReceipt {
  gift_id: string;
  stream_id: string;
  gift_type: string;
  amount: number;
  total_price: number;
  sent_at: string;
  /**
   * the combo streak it joined (null for gifts sent before streaks)
   */
  streak_id: string | null;
  /**
   * gifts in that streak so far
   */
  streak_count: number | null;
}
/**
 * One sender's gifts to a stream: how many (the sum of ``amount``) and what they cost.
 */
export interface GiftSenderTotal {
  sender_id: string;
  gifts: number;
  coins: number;
}
/**
 * ``GET /live/{stream_id}/gifts/summary`` (the owner): gifts received, with totals per
 * sender, biggest spender first (at most ``limit`` senders; the totals count every one).
 */
export interface GiftSummary {
  stream_id: string;
  gifts: number;
  coins: number;
  senders: GiftSenderTotal[];
}
/**
 * First frame after connect: the room's state and the most recent (or missed) messages.
 */
export interface Hello {
  type: "hello";
  stream_id: string;
  status: StreamStatus;
  viewer_count: number;
  slow_mode_s: number;
  followers_only: boolean;
  /**
   * followers-only chat: minutes a viewer must have followed
   */
  min_follow_minutes: number;
  /**
   * newest sequence number in the room when this was sent
   */
  last_seq: number;
  messages: ChatMessageFrame[];
  role: "viewer" | "moderator" | "owner";
  /**
   * true when more messages were missed than a resume replays, or when `last_seq` asked for is beyond the room's newest (a cursor this room never reached): `messages` are then the most recent ones and `last_seq` is the room's real cursor
   */
  reset: boolean;
  /**
   * the room's pinned message or announcement, if one is up
   */
  pin: PinnedMessage | null;
}
/**
 * What a room shows pinned: in ``hello``, the ``pin`` frame and ``chat.pin_changed``.
 * A pinned message carries its ``message_id``, ``seq`` and author (``account_id``); an
 * announcement has ``null`` for the three. ``until``: when the pin goes (``null``: until
 * unpinned).
 */
export interface PinnedMessage {
  pin_id: string;
  text: string;
  message_id: string | null;
  seq: number | null;
  account_id: string | null;
  pinned_by: string;
  pinned_at: string;
  until: string | null;
}
/**
 * ``POST /live/{stream_id}/join`` response (the original plan's shape).
 */
export interface JoinLiveStreamResponse {
  playback_url: string;
  viewer_count: number;
  status: "idle" | "active" | "ended";
}
/**
 * ``GET /live/{stream_id}``. ``stream_key``/``rtmp_url`` only for the owner.
 */
export interface LiveStreamDetails {
  stream_id: string;
  owner_id: string;
  title: string;
  description: string | null;
  thumbnail: string | null;
  /**
   * the owner's thumbnail, else Mux's image of the stream (https://image.mux.com/{playback_id}/thumbnail.jpg)
   */
  thumbnail_url: string | null;
  status: StreamStatus;
  viewer_count: number;
  playback_url: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
  peak_viewer_count: number;
  archive_playback_url: string | null;
  stream_key: string | null;
  rtmp_url: string | null;
}
/**
 * One stream in ``GET /live``.
 */
export interface LiveStreamSummary {
  stream_id: string;
  owner_id: string;
  title: string;
  description: string | null;
  thumbnail: string | null;
  /**
   * the owner's thumbnail, else Mux's image of the stream (https://image.mux.com/{playback_id}/thumbnail.jpg)
   */
  thumbnail_url: string | null;
  status: StreamStatus;
  viewer_count: number;
  playback_url: string;
  created_at: string;
  started_at: string | null;
  ended_at: string | null;
}
/**
 * ``POST /notifications/read``: either ``ids`` (yours) or ``all``.
 */
export interface MarkReadRequest {
  /**
   * @maxItems 500
   */
  ids?: string[];
  all?: boolean;
}
/**
 * ``POST /notifications/read`` response: how many notifications changed to read.
 */
export interface MarkReadResult {
  marked: number;
}
/**
 * Something happened to *you*: banned, timed out, or unbanned.
 */
export interface ModerationFrame {
  type: "moderation";
  action: "banned" | "timed_out" | "unbanned";
  expires_at: string | null;
  reason: string | null;
}
/**
 * One entry of ``GET /live/{stream_id}/moderation-log``. ``action``: ``moderator_added``,
 * ``moderator_removed``, ``user_banned``, ``user_unbanned`` (``account_id``: the account
 * concerned); ``blocked_term_added``, ``blocked_term_removed`` (``detail``: the term),
 * ``message_pinned``, ``message_unpinned`` (``detail``: the pinned text, ``message_id``: the
 * pinned message if any, ``account_id``: its author, else who acted; ``reason``
 * ``message_deleted`` when a pin went with its message).
 */
export interface ModerationLogEntry {
  action_id: string;
  action: string;
  account_id: string;
  by: string;
  at: string;
  expires_at: string | null;
  reason: string | null;
  detail: string | null;
  message_id: string | null;
}
/**
 * ``POST /live/{stream_id}/moderators`` response (201 when added, 200 if already one);
 * ``DELETE /live/{stream_id}/moderators/{account_id}`` answers 200 with ``changed: false``
 * when the account was no moderator (204 when removed).
 */
export interface ModeratorChange {
  account_id: string;
  moderator: boolean;
  changed: boolean;
}
export interface ModeratorView {
  account_id: string;
  added_by: string;
  added_at: string;
}
/**
 * One notification in ``GET /notifications``.
 */
export interface NotificationView {
  notification_id: string;
  kind: "stream_live" | "gift_received" | "banned";
  title: string;
  body: string;
  data: {
    [k: string]: unknown;
  };
  created_at: string;
  read: boolean;
}
export interface PageChatMessage {
  items: ChatMessage[];
  next_cursor: string | null;
}
export interface PageFollowingEntry {
  items: FollowingEntry[];
  next_cursor: string | null;
}
export interface PageLiveStreamSummary {
  items: LiveStreamSummary[];
  next_cursor: string | null;
}
export interface PageModerationLogEntry {
  items: ModerationLogEntry[];
  next_cursor: string | null;
}
export interface PageNotificationView {
  items: NotificationView[];
  next_cursor: string | null;
}
/**
 * The room's pin changed: show ``pin`` (``null``: take the pin down: unpinned, expired
 * or its message deleted). Clients also take it down themselves at ``pin.until``.
 */
export interface PinFrame {
  type: "pin";
  pin: PinnedMessage | null;
}
/**
 * ``PUT /live/{stream_id}/chat/pin`` (owner or moderator): pin a message of the room
 * (``message_id``) or an announcement (``text``, 1-300 characters): exactly one of the two;
 * ``until`` (ISO 8601, in the future) takes it down then.
 */
export interface PinRequest {
  message_id?: string | null;
  text?: string | null;
  until?: string | null;
}
/**
 * Answer to ``ping``.
 */
export interface Pong {
  type: "pong";
  nonce: string | null;
}
/**
 * ``POST /live/{stream_id}/chats`` response; ``duplicate`` when an ``Idempotency-Key`` was
 * seen before (the original message is returned, nothing is posted twice).
 */
export interface PostedChatMessage {
  message_id: string;
  seq: number;
  duplicate: boolean;
}
/**
 * ``POST /live/{stream_id}/gift`` body (the original plan's shape).
 */
export interface SendGiftRequest {
  gift_type: string;
  amount: number;
}
/**
 * ``POST /live/{stream_id}/chats`` body (the original plan's shape). The message must be
 * 1–500 characters as users see them, by the user-text rule of :mod:`contracts.text`
 * (NFC, bidi controls closed, trimmed, something visible, no control characters).
 */
export interface SendLiveChatRequest {
  message: string;
}
/**
 * The room's viewer count changed.
 */
export interface ViewerCountFrame {
  type: "viewer_count";
  viewer_count: number;
}
/**
 * The stream's status changed; when ``ended`` chat is read-only.
 */
export interface StreamStatusFrame {
  type: "stream_status";
  status: StreamStatus;
}
/**
 * The owner changed the stream's title, description or thumbnail.
 */
export interface StreamUpdatedFrame {
  type: "stream_updated";
  title: string;
  description: string | null;
  thumbnail_url: string | null;
}
/**
 * Slow mode changed (``0``: off).
 */
export interface SlowModeFrame {
  type: "slow_mode";
  interval_s: number;
}
/**
 * ``PUT /live/{stream_id}/chat/slow-mode`` body: one message per ``interval_s`` per viewer
 * (``0`` turns it off).
 */
export interface SlowModeRequest {
  interval_s: number;
}
/**
 * ``POST /live/{stream_id}/reset-stream-key`` response: the new key (the old one is refused
 * by Mux from now on) and where to push with it.
 */
export interface StreamKeyReset {
  stream_id: string;
  stream_key: string;
  rtmp_url: string;
}
/**
 * ``GET /live/{stream_id}/usage[?from=&to=]`` (owner).
 */
export interface StreamUsage {
  from: string | null;
  to: string | null;
  measured: UsageMeasured;
  estimated: UsageEstimated;
  basis: {
    [k: string]: unknown;
  };
  stream_id: string;
}
/**
 * ``GET /notifications/unread-count``.
 */
export interface UnreadCount {
  unread: number;
}
/**
 * ``PATCH /live/{stream_id}`` body: any of ``title``, ``description``, ``thumbnail``, with
 * the rules of :class:`CreateLiveStreamRequest`; ``null`` clears ``description`` or
 * ``thumbnail`` (a title cannot be cleared). At least one field.
 */
export interface UpdateLiveStreamRequest {
  title?: string | null;
  description?: string | null;
  /**
   * https URL of an image on a public host
   */
  thumbnail?: string | null;
}
/**
 * Usage over ``[from, to)`` (unbounded when absent), each figure by overlap with the
 * window. Every figure except the counts (``streams``, ``recordings``,
 * ``recording_minutes``) adds up across adjacent windows. ``basis`` says how each figure was
 * obtained, which prices were assumed, and its ``sources`` (Mux's documentation).
 */
export interface UsageReport {
  from: string | null;
  to: string | null;
  measured: UsageMeasured;
  estimated: UsageEstimated;
  basis: {
    [k: string]: unknown;
  };
}
