// Video playback: Mux Player (the <mux-player> web component, vendored from npm, see
// ../vendor/README.md). It plays any HLS playback URL (stream.mux.com in production, the Mux
// simulator's test pattern locally), shows the live state (and DVR: a live stream can be
// scrubbed back) or the archive's timeline, and reports to Mux Data when the gateway's
// config.json carries an environment key. Without one the player is told `disable-tracking`:
// no beacon leaves the page.
// Mux Player attributes: https://www.mux.com/docs/guides/player-api-reference

import "../vendor/mux-player.mjs";

/** The page's config from the gateway (GET /app/config.json): {mux_data_env_key: string}. */
let configPromise = null;

export function clientConfig() {
  configPromise ??= fetch(new URL("config.json", document.baseURI), { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : {}))
    .catch(() => ({}));
  return configPromise;
}

export class Player {
  /** @param {(message: string) => void} onError */
  constructor(onError) {
    this.onError = onError;
    /** @type {HTMLElement & {media?: {nativeEl?: HTMLVideoElement}}} */
    this.element = document.createElement("mux-player");
    this.element.dataset.testid = "video";
    this.element.setAttribute("accent-color", "#5b3fd9");
    this.element.setAttribute("default-hidden-captions", "");
    this.element.muted = true; // autoplay is allowed muted; the controls unmute
    this.element.setAttribute("muted", "");
    this.element.setAttribute("autoplay", "muted");
    // no casting: Mux Player would load Google's Cast sender SDK from www.gstatic.com in every
    // Chrome page (the page asks nothing of any host but the gateway and the playback host).
    // Mux Player has no attribute for it: its <mux-video>, rendered in the constructor, takes the
    // video element's own `disableremoteplayback`, which Media Chrome checks before casting.
    this.element.media?.setAttribute("disableremoteplayback", "");
    this.element.addEventListener("error", (event) => {
      const detail = /** @type {CustomEvent} */ (event).detail;
      const message = detail && detail.message ? detail.message : "unknown error";
      this.onError(`video could not be played: ${message}`);
    });
    this.generation = 0;
  }

  /**
   * Play `url` (an HLS playlist).
   * @param {string | null | undefined} url
   * @param {{live?: boolean, streamId?: string, title?: string}} about
   *   live: a live stream (live indicator, DVR window); otherwise a recording (on demand);
   *   streamId/title: what Mux Data files the view under (video id and title).
   */
  async load(url, { live = false, streamId = "", title = "" } = {}) {
    this.stop();
    if (!url) return;
    const generation = ++this.generation;
    const config = await clientConfig();
    if (generation !== this.generation) return; // stopped or reloaded meanwhile
    const el = this.element;
    const key = config && typeof config.mux_data_env_key === "string" ? config.mux_data_env_key : "";
    if (key) {
      el.removeAttribute("disable-tracking");
      el.setAttribute("env-key", key);
    } else {
      el.removeAttribute("env-key");
      el.setAttribute("disable-tracking", "");
    }
    el.setAttribute("stream-type", live ? "live" : "on-demand");
    if (live) el.setAttribute("target-live-window", "Infinity"); // DVR: scrub back in a live stream
    else el.removeAttribute("target-live-window");
    el.setAttribute("metadata-video-id", streamId);
    el.setAttribute("metadata-video-title", title);
    el.setAttribute("metadata-player-name", "livecast web");
    el.setAttribute("src", url);
    el.dataset.playing = live ? "live" : "archive";
  }

  stop() {
    this.generation += 1;
    this.element.removeAttribute("src");
    delete this.element.dataset.playing;
  }

  destroy() {
    this.stop();
  }
}

/**
 * Play what a stream has to show: its live playback while it is not over, its recording
 * (`archive_playback_url`, GET /live/{id}) once it is.
 * @param {Player} player
 * @param {{stream_id: string, title: string, status: string, playback_url?: string | null,
 *          archive_playback_url?: string | null}} details
 * @param {string | null} [playbackUrl] a playback URL from join, if any (else details')
 * @returns {boolean} false for an ended stream whose recording is not ready yet
 */
export function playStream(player, details, playbackUrl = null) {
  const about = { streamId: details.stream_id, title: details.title };
  if (details.status !== "ended") {
    player.load(playbackUrl || details.playback_url, { ...about, live: true });
  } else if (details.archive_playback_url) {
    player.load(details.archive_playback_url, { ...about, live: false });
  } else {
    player.stop();
    return false;
  }
  return true;
}

/**
 * The stream just ended: stop the live playback and play the recording once Mux has it (the
 * asset is ready a little after the end; asked every `everyMs`, `tries` times at most).
 * @param {Player} player @param {() => Promise<any>} details GET /live/{id}
 * @returns {() => void} cancels the wait
 */
export function playArchiveWhenReady(player, details, { everyMs = 3000, tries = 40 } = {}) {
  player.stop();
  let left = tries;
  let timer = null;
  const check = async () => {
    left -= 1;
    const d = await details().catch(() => null);
    if (d && d.status === "ended" && d.archive_playback_url) playStream(player, d);
    else if (left > 0) timer = setTimeout(check, everyMs);
  };
  check();
  return () => clearTimeout(timer);
}

/** The stream ended in the last few minutes (its recording may still be on its way). */
export function endedLately(details, withinMs = 5 * 60_000) {
  const ended = details.ended_at ? Date.parse(details.ended_at) : NaN;
  return details.status === "ended" && (Number.isNaN(ended) || Date.now() - ended < withinMs);
}
