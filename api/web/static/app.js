// recvault console script: local times, the browser's time zone for date
// searches, and the player (waveform from precomputed peaks, seek by click,
// drag or keys, one track or both, speed). Plain script, no library.
"use strict";
(function () {
  // Times in the browser's zone; the server sent UTC (or the search's zone).
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.dateTime);
    if (!isNaN(d)) t.textContent = fmt.format(d);
  }
  // A date-only search means days in the browser's time zone.
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  for (const i of document.querySelectorAll("input[data-browser-tz]")) {
    if (!i.value && zone) i.value = zone;
  }
  // Leave empty fields out of the URL, so that it holds just the search.
  for (const f of document.querySelectorAll("form.search")) {
    f.addEventListener("submit", () => {
      for (const el of f.querySelectorAll("input, select")) if (!el.value) el.disabled = true;
    });
  }
  window.addEventListener("pageshow", () => {
    for (const el of document.querySelectorAll("form.search [disabled]")) el.disabled = false;
  });

  const root = document.getElementById("console-player");
  if (!root) return;
  const audio = document.getElementById("player");
  const canvas = document.getElementById("waveform");
  const clock = document.getElementById("clock");
  const button = document.getElementById("playpause");
  const speed = document.getElementById("speed");
  const lanesLabels = (root.dataset.lanes || "").split(",").filter(Boolean);
  let peaks = null;
  let track = "";
  let dragging = false;

  function mediaURL(t) {
    const u = new URL(root.dataset.media, location.href);
    u.searchParams.set("format", t ? root.dataset.trackFormat : root.dataset.format);
    if (t) u.searchParams.set("channels", t);
    u.searchParams.set("disposition", "inline");
    u.searchParams.set("play", root.dataset.play);
    return u.pathname + u.search;
  }

  function duration() {
    return isFinite(audio.duration) && audio.duration > 0 ? audio.duration : parseFloat(root.dataset.duration) || 0;
  }

  function mmss(s) {
    s = Math.max(0, Math.floor(s));
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, sec = String(s % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + sec : m + ":" + sec;
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    const d = duration();
    const played = d ? audio.currentTime / d : 0;
    if (peaks) {
      const lanes = peaks.channels;
      const lh = h / lanes.length;
      lanes.forEach((lane, c) => {
        const mid = lh * c + lh / 2;
        const n = lane.min.length;
        const muted = track && lane.label !== track;
        for (let x = 0; x < w; x++) {
          const i = Math.min(n - 1, Math.floor((x / w) * n));
          const top = mid - lane.max[i] * (lh / 2 - 2);
          const bottom = mid - lane.min[i] * (lh / 2 - 2);
          const past = x / w < played;
          g.fillStyle = muted ? (past ? "#9aa3b5" : "#c9cfdb") : past ? "#0b3d91" : "#4d8ef0";
          g.fillRect(x, top, 1, Math.max(1, bottom - top));
        }
        if (c > 0) {
          g.fillStyle = "#c9cfdb";
          g.fillRect(0, lh * c, w, Math.max(1, dpr));
        }
      });
    }
    g.fillStyle = "#d22";
    g.fillRect(Math.round(played * w), 0, Math.max(1, Math.round(dpr)), h);
    canvas.setAttribute("aria-valuenow", audio.currentTime.toFixed(1));
    canvas.setAttribute("aria-valuetext", mmss(audio.currentTime) + " of " + mmss(d));
    clock.textContent = mmss(audio.currentTime) + " / " + mmss(d);
  }

  let frame = 0;
  function tick() {
    draw();
    frame = audio.paused ? 0 : requestAnimationFrame(tick);
  }
  function redraw() {
    if (!frame) frame = requestAnimationFrame(tick);
  }

  function loadPeaks() {
    const points = Math.min(4000, Math.max(100, Math.round(canvas.clientWidth * (window.devicePixelRatio || 1))));
    fetch(root.dataset.peaks + "?points=" + points, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error("peaks: HTTP " + r.status))))
      .then((p) => {
        peaks = p;
        root.dataset.peaksLoaded = String(p.channels.length);
        redraw();
      })
      .catch((e) => {
        root.dataset.peaksError = String(e);
      });
  }

  function seekTo(t) {
    const d = duration();
    if (!d) return;
    audio.currentTime = Math.min(Math.max(0, t), d);
    redraw();
  }
  function seekAt(ev) {
    const r = canvas.getBoundingClientRect();
    seekTo(((ev.clientX - r.left) / r.width) * duration());
  }
  canvas.addEventListener("pointerdown", (ev) => {
    dragging = true;
    canvas.setPointerCapture(ev.pointerId);
    seekAt(ev);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (dragging) seekAt(ev);
  });
  canvas.addEventListener("pointerup", () => {
    dragging = false;
  });

  function toggle() {
    if (audio.paused) audio.play().catch(() => {});
    else audio.pause();
  }
  button.addEventListener("click", toggle);
  document.addEventListener("keydown", (ev) => {
    const tag = ev.target && ev.target.tagName;
    if (ev.altKey || ev.ctrlKey || ev.metaKey || tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || tag === "BUTTON" || tag === "AUDIO") return;
    if (ev.key === " ") {
      toggle();
    } else if (ev.key === "ArrowLeft") {
      seekTo(audio.currentTime - 5);
    } else if (ev.key === "ArrowRight") {
      seekTo(audio.currentTime + 5);
    } else if (ev.key === "Home") {
      seekTo(0);
    } else if (ev.key === "End") {
      seekTo(duration());
    } else {
      return;
    }
    ev.preventDefault();
  });

  speed.addEventListener("change", () => {
    const r = parseFloat(speed.value);
    audio.defaultPlaybackRate = r;
    audio.playbackRate = r;
  });

  for (const radio of document.querySelectorAll('input[name="track"]')) {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      const at = audio.currentTime, playing = !audio.paused;
      track = radio.value;
      audio.src = mediaURL(track);
      audio.addEventListener(
        "loadedmetadata",
        () => {
          audio.currentTime = at;
          audio.playbackRate = audio.defaultPlaybackRate;
          if (playing) audio.play().catch(() => {});
        },
        { once: true }
      );
      redraw();
    });
  }

  audio.addEventListener("play", () => {
    button.textContent = "Pause";
    redraw();
  });
  audio.addEventListener("pause", () => {
    button.textContent = "Play";
    redraw();
  });
  for (const e of ["timeupdate", "seeked", "loadedmetadata", "durationchange"]) audio.addEventListener(e, redraw);
  window.addEventListener("resize", redraw);
  if (lanesLabels.length) canvas.setAttribute("aria-label", canvas.getAttribute("aria-label") + " (lanes: " + lanesLabels.join(", ") + ")");
  loadPeaks();
  redraw();
})();
