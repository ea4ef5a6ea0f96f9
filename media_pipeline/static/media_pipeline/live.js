/* Live pages: the user's uploads pushed by the server (Server-Sent Events from /events/),
   ThumbHash placeholders painted while an upload waits, and the duplicate notice's "Keep
   both". upload.js asks window.mediaLive to follow an upload; when the stream cannot be
   used, it polls instead. Without JavaScript the pages refresh themselves. */
import { thumbHashToDataURL } from "./thumbhash.js";

const FINAL = ["ready", "failed"];
const GIVE_UP_AFTER_ERRORS = 3; // failed connections in a row before falling back to polling
// While the stream is down the followed uploads are polled, and the stream is tried again
// after a wait that doubles from the first to the last (each cut by up to half, at random,
// so that many pages cut off by one outage do not all come back at the same moment).
const RETRY_FIRST_MS = 2000;
const RETRY_MAX_MS = 60000;

const script = document.getElementById("live-script");
const followers = new Map(); // API URL of an upload -> [{onChange, fallback, seen}, ...]
let source = null;
let broken = !window.EventSource || !script; // true while the stream is not in use
let failures = 0;
let retries = 0; // stream attempts since it last opened
let lastEventId = null; // where a new stream picks up (the browser's own reconnects send it)

function changeOf(upload) {
  return upload.status + ":" + upload.renditions.length + ":" + upload.duplicate_of;
}

// The stream is down: its followers poll (each until its upload is final), and a new
// stream is tried later; follow() answers false, so new followers poll too, until it opens.
function fallBack() {
  source.close();
  source = null;
  if (!broken) {
    broken = true;
    followers.forEach((list) => list.forEach((follower) => follower.fallback()));
    followers.clear();
  }
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** retries);
  retries += 1;
  window.setTimeout(connect, ceiling / 2 + (Math.random() * ceiling) / 2);
}

function deliver(upload) {
  const list = followers.get(upload.url) || [];
  if (FINAL.includes(upload.status)) followers.delete(upload.url);
  list.forEach((follower) => {
    if (follower.seen === changeOf(upload)) return;
    follower.seen = changeOf(upload);
    follower.onChange(upload);
  });
  document.dispatchEvent(new CustomEvent("media:upload", { detail: upload }));
}

function streamUrl() {
  const url = new URL(script.dataset.eventsUrl, window.location.href);
  // A new EventSource sends no Last-Event-ID: say where the last stream stopped.
  if (lastEventId) url.searchParams.set("since", lastEventId);
  return url.href;
}

function connect() {
  failures = 0;
  const stream = new EventSource(streamUrl(), { withCredentials: true });
  source = stream;
  stream.addEventListener("open", () => {
    failures = 0;
    retries = 0;
    broken = false; // back on the stream: new followers are pushed to again
  });
  stream.addEventListener("uploads", (event) => {
    failures = 0;
    if (event.lastEventId) lastEventId = event.lastEventId;
    JSON.parse(event.data).uploads.forEach(deliver);
  });
  // The server ends each stream after a while and the browser reconnects by itself; only
  // a stream that is refused (closed) or keeps failing sends the page back to polling.
  stream.addEventListener("error", () => {
    if (stream !== source) return; // one already given up
    failures += 1;
    if (stream.readyState === EventSource.CLOSED || failures >= GIVE_UP_AFTER_ERRORS) fallBack();
  });
}

// Follow an upload: onChange gets each new state until a final one. False when the stream
// is not in use, and the caller polls; `fallback` starts that polling later if it breaks.
function follow(url, onChange, fallback) {
  if (broken) return false;
  const follower = { onChange, fallback, seen: null };
  followers.set(url, [...(followers.get(url) || []), follower]); // a row and a tile, say
  // Nothing pushed before is replayed: the caller has the newer state (a 202 or a retry's
  // answer), and every later change comes as an event of its own.
  return true;
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

// The blurred picture of a ThumbHash over the placeholder's colour box.
function paint(placeholder) {
  const hash = placeholder.dataset.thumbhash;
  if (!hash || placeholder.dataset.painted === hash) return;
  let url;
  try {
    url = thumbHashToDataURL(base64Bytes(hash));
  } catch (ignored) {
    return; // a damaged hash: the colour box stays
  }
  placeholder.dataset.painted = hash;
  let image = placeholder.querySelector(".placeholder-image");
  if (!image) {
    image = document.createElement("img");
    image.className = "placeholder-image";
    image.alt = "";
    placeholder.append(image); // after the state's text, which upload.js keeps first
  }
  image.src = url;
}

// Bring what this file owns in a tile or the upload's page up to date with the upload.
function decorate(node, upload) {
  const placeholder = node.querySelector(".placeholder");
  if (placeholder && upload.status !== "failed" && upload.placeholder && upload.placeholder.thumbhash) {
    placeholder.dataset.thumbhash = upload.placeholder.thumbhash;
    if (upload.placeholder.color) placeholder.style.backgroundColor = upload.placeholder.color;
    paint(placeholder);
  }
  const notice = node.querySelector(".duplicate-notice");
  if (notice) {
    notice.hidden = !upload.duplicate_of;
    if (upload.duplicate_of) notice.querySelector(".duplicate-link").href = "/uploads/" + upload.duplicate_of + "/";
    // Tiles made from the page's template learn their upload's name here.
    notice.querySelector(".duplicate-keep .visually-hidden").textContent = " copies of " + upload.name;
    notice.querySelector(".duplicate-drop .visually-hidden").textContent = " " + upload.name;
  }
}

function csrfToken(form) {
  const found = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  const field = form.querySelector("input[name=csrfmiddlewaretoken]");
  return found ? decodeURIComponent(found.slice(10)) : field ? field.value : "";
}

function say(text) {
  const announcer = document.getElementById("announcer");
  if (announcer) announcer.append(Object.assign(document.createElement("p"), { textContent: text }));
}

// "Keep both": the flag goes, the upload stays (the plain form does the same without this).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches || !form.matches("form.duplicate-keep") || !form.dataset.apiUrl) return;
  event.preventDefault();
  const button = form.querySelector("button");
  const hadFocus = document.activeElement === button; // before disabling it takes the focus away
  button.disabled = true;
  fetch(form.dataset.apiUrl + "keep/", {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken(form) },
  })
    .then((response) => {
      if (!response.ok) throw new Error("error " + response.status);
      form.closest(".duplicate-notice").hidden = true;
      say(form.dataset.name + " kept.");
      // The focused button is hidden with its notice: keep the keyboard on this upload
      // (its tile's name, or the page's heading), not back at the top of the page.
      const scope = form.closest(".tile, #upload-detail");
      const target = scope && scope.querySelector(".tile-name, h1");
      if (hadFocus && target) {
        if (target.matches("h1")) target.tabIndex = -1;
        target.focus();
      }
    })
    .catch((error) => say(form.dataset.name + " was not kept: " + error.message))
    .finally(() => { button.disabled = false; });
});

document.querySelectorAll(".placeholder[data-thumbhash]").forEach(paint);
window.mediaLive = { follow, decorate };
if (!broken) connect();
