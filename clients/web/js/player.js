// HLS playback: hls.js (vendored from npm, see ../vendor/README.md) where Media Source
// Extensions exist, the browser's own HLS otherwise (Safari, iOS).

import Hls from "../vendor/hls.light.min.mjs";

export class Player {
  /** @param {HTMLVideoElement} video @param {(message: string) => void} onError */
  constructor(video, onError) {
    this.video = video;
    this.onError = onError;
    this.hls = null;
  }

  load(url) {
    this.stop();
    if (!url) return;
    const video = this.video;
    if (Hls.isSupported()) {
      const hls = new Hls({ lowLatencyMode: true, manifestLoadingMaxRetry: 6 });
      this.hls = hls;
      hls.on(Hls.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
          return;
        }
        const status = data.response && data.response.code ? ` (HTTP ${data.response.code})` : "";
        this.onError(`video could not be played: ${data.details}${status}`);
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => this.play());
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = url;
      video.addEventListener("loadedmetadata", () => this.play(), { once: true });
    } else {
      this.onError("this browser cannot play HLS video");
    }
  }

  play() {
    this.video.muted = true; // autoplay is allowed muted; the controls unmute
    this.video.play().catch(() => {});
  }

  stop() {
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    this.video.removeAttribute("src");
  }

  destroy() {
    this.stop();
  }
}
