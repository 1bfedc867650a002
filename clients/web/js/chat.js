// The chat connection of one stream: WS /ws/live/{stream_id}. Frames: clients/types/api.ts
// (ClientFrame, ServerFrame). Reconnects with backoff and resumes after the last message seen
// (`last_seq`), so a dropped connection loses nothing; sends are retried with the same
// client_msg_id, which the server deduplicates.

const CLOSE = { UNAUTHORIZED: 4001, BANNED: 4003, UNKNOWN_STREAM: 4004, RATE_LIMITED: 4008 };
const FINAL = {
  [CLOSE.UNAUTHORIZED]: "Your session is not valid for chat; sign in again.",
  [CLOSE.BANNED]: "You are banned from this chat.",
  [CLOSE.UNKNOWN_STREAM]: "This stream does not exist.",
};

export class ChatConnection {
  /**
   * @param {string} streamId
   * @param {() => string | null} token returns the current bearer token
   * @param {(frame: import("../../types/api").ServerFrame) => void} onFrame
   * @param {(state: {connected: boolean, final?: string, retryIn?: number}) => void} onState
   */
  constructor(streamId, token, onFrame, onState) {
    this.streamId = streamId;
    this.token = token;
    this.onFrame = onFrame;
    this.onState = onState;
    this.lastSeq = null; // null until the first hello: then resume from here
    this.pending = new Map(); // client_msg_id -> chat.send frame, until acked
    this.attempt = 0;
    this.closed = false;
    this.ws = null;
    this.timer = null;
    this.connect();
  }

  url() {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ token: this.token() || "" });
    if (this.lastSeq !== null) query.set("last_seq", String(this.lastSeq));
    return `${proto}://${location.host}/ws/live/${encodeURIComponent(this.streamId)}?${query}`;
  }

  connect() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.onmessage = (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame.type === "hello") {
        this.attempt = 0;
        this.onState({ connected: true });
        for (const send of this.pending.values()) ws.send(JSON.stringify(send));
      }
      if (frame.type === "chat.message" || frame.type === "hello") {
        const seq = frame.type === "hello" ? frame.last_seq : frame.seq;
        this.lastSeq = Math.max(this.lastSeq ?? 0, seq);
      }
      let sent = null;
      if (frame.type === "chat.ack" || (frame.type === "chat.error" && frame.client_msg_id)) {
        sent = this.pending.get(frame.client_msg_id) ?? null;
        this.pending.delete(frame.client_msg_id);
      }
      // a refused message comes back with its text, so the page can give it back to edit
      this.onFrame(frame.type === "chat.error" && sent ? { ...frame, sent: sent.message } : frame);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws || this.closed) return;
      // a stream created a moment ago may not have reached this gateway yet: retry a little
      const final =
        event.code === CLOSE.UNKNOWN_STREAM && this.attempt < 6 ? null : FINAL[event.code];
      if (final) {
        this.closed = true;
        this.onState({ connected: false, final });
        return;
      }
      const delay = Math.min(30, 0.5 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      this.onState({ connected: false, retryIn: delay, reason: event.reason });
      this.timer = setTimeout(() => this.connect(), delay * 1000);
    };
  }

  /** Send a message; returns its client_msg_id. Queued while reconnecting. */
  send(text) {
    const frame = { type: "chat.send", client_msg_id: crypto.randomUUID(), message: text };
    this.pending.set(frame.client_msg_id, frame);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
    return frame.client_msg_id;
  }

  /** @param {import("../../types/api").ClientFrame} frame */
  command(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  /** Drop the connection as a network failure would (used to show and test resume). */
  drop() {
    if (this.ws) this.ws.close(4000, "client dropped");
    // onclose schedules the reconnect as for any other drop
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
  }
}
