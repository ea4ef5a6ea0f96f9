/* Direct uploads: each file goes from the browser straight to the media host (S3), in parts
   sent a few at a time, through short-lived URLs the server presigns; the web server never
   carries the bytes. A part that fails is sent again with backoff; each file can be paused,
   resumed and cancelled; a page reloaded (or a connection lost) resumes the unfinished
   uploads it remembers from the parts the media host already holds, once the same file is
   chosen again. upload.js hands files here when the page offers direct uploads
   (data-direct-url on the upload form), and sends them itself when the server says no. */
(function () {
  "use strict";

  var STORE = "media.directUploads";
  var PARALLEL_PARTS = 4; // over all files: browsers open about 6 connections per host
  var TRIES_PER_PART = 6;
  var RETRY_FIRST_MS = 1000;
  var RETRY_MAX_MS = 30000;
  var SPEED_WINDOW_MS = 5000;

  var form = document.getElementById("upload-form");
  if (!form || !form.dataset.directUrl || !window.fetch || !window.localStorage) return;

  // --- helpers --------------------------------------------------------------------------------

  function csrfToken() {
    var found = document.cookie.split("; ").filter(function (part) {
      return part.indexOf("csrftoken=") === 0;
    })[0];
    var field = form.querySelector("input[name=csrfmiddlewaretoken]");
    return found ? decodeURIComponent(found.slice(10)) : field ? field.value : "";
  }

  function api(url, method, body) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (ignored) { /* an HTML error page */ }
        return { status: response.status, data: data };
      });
    });
  }

  function reasonOf(answer) {
    if (answer.data && answer.data.error) return answer.data.error;
    if (answer.status === 403) return "Your session has expired. Reload the page and log in again.";
    return "The server could not take this file (error " + answer.status + "). Please try again.";
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) { node.append(child); });
    return node;
  }

  function mb(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

  function duration(seconds) {
    if (seconds < 60) return Math.max(1, Math.round(seconds)) + " s";
    if (seconds < 3600) return Math.round(seconds / 60) + " min";
    return (seconds / 3600).toFixed(1) + " h";
  }

  function button(label, onClick) {
    var node = el("button", { type: "button", class: "small" }, [label]);
    node.addEventListener("click", onClick);
    return node;
  }

  // --- what this browser remembers of its unfinished uploads (by file name, size and date) -----

  function fingerprint(file) { return [file.name, file.size, file.lastModified].join("|"); }

  function remembered() {
    try { return JSON.parse(localStorage.getItem(STORE) || "{}") || {}; } catch (e) { return {}; }
  }

  function remember(upload) {
    var all = remembered();
    all[upload.id] = {
      fingerprint: fingerprint(upload.file), name: upload.file.name, size: upload.file.size,
      partSize: upload.partSize, started: Date.now(),
    };
    localStorage.setItem(STORE, JSON.stringify(all));
  }

  function forget(id) {
    var all = remembered();
    delete all[id];
    localStorage.setItem(STORE, JSON.stringify(all));
    var offer = document.querySelector('[data-unfinished="' + id + '"]');
    if (offer) offer.remove();
    refreshOffers();
  }

  function rememberedFor(file) {
    var all = remembered();
    var wanted = fingerprint(file);
    return Object.keys(all).filter(function (id) { return all[id].fingerprint === wanted; })[0];
  }

  function urlOf(id, what) { return "/api/uploads/" + id + "/" + (what ? what + "/" : ""); }

  // --- the overall progress line ----------------------------------------------------------------

  var uploads = [];
  var samples = [];
  var summary = el("p", { id: "direct-progress", class: "hint direct-progress", hidden: "" });
  var queueList = document.getElementById("upload-queue");
  if (queueList) queueList.before(summary);

  function bytesSent() {
    return uploads.reduce(function (sum, u) { return sum + sentOf(u); }, 0);
  }

  function sentOf(upload) {
    return upload.parts.reduce(function (sum, p) { return sum + (p.done ? p.size : p.loaded); }, 0);
  }

  function updateSummary() {
    var active = uploads.filter(function (u) { return u.state === "sending" || u.state === "paused"; });
    if (!active.length) {
      summary.hidden = true;
      samples = [];
      return;
    }
    var total = active.reduce(function (sum, u) { return sum + u.file.size; }, 0);
    var sent = active.reduce(function (sum, u) { return sum + sentOf(u); }, 0);
    var now = Date.now();
    samples.push([now, bytesSent()]);
    while (samples.length > 2 && now - samples[0][0] > SPEED_WINDOW_MS) samples.shift();
    var first = samples[0];
    var speed = now > first[0] ? (bytesSent() - first[1]) / ((now - first[0]) / 1000) : 0;
    var text = "Uploading " + active.length + (active.length === 1 ? " file: " : " files: ") +
      mb(sent) + " of " + mb(total);
    if (active.every(function (u) { return u.state === "paused"; })) {
      text += " · paused";
    } else if (speed > 0 && now - first[0] >= 1000) {
      text += " · " + mb(speed) + "/s · about " + duration((total - sent) / speed) + " left";
    }
    summary.textContent = text;
    summary.hidden = false;
  }

  window.setInterval(updateSummary, 1000);

  // --- sending parts, a few at a time over all files --------------------------------------------

  // Parts being sent now, over all files.
  function inFlight() {
    return uploads.reduce(function (sum, u) {
      return sum + u.parts.filter(function (p) { return p.xhr; }).length;
    }, 0);
  }

  function pump() {
    var started = true;
    while (inFlight() < PARALLEL_PARTS && started) {
      started = false;
      for (var i = 0; i < uploads.length && inFlight() < PARALLEL_PARTS; i += 1) {
        var upload = uploads[i];
        if (upload.state !== "sending") continue;
        var part = upload.parts.filter(function (p) { return !p.done && !p.xhr && !p.waiting; })[0];
        if (part) {
          sendPart(upload, part);
          started = true;
        }
      }
    }
  }

  function sendPart(upload, part) {
    var xhr = new XMLHttpRequest();
    part.xhr = xhr;
    part.loaded = 0;
    xhr.open("PUT", part.url);
    xhr.upload.addEventListener("progress", function (event) {
      part.loaded = event.loaded;
      showProgress(upload);
    });
    xhr.addEventListener("loadend", function () {
      if (part.xhr !== xhr) return; // stopped (paused or cancelled): nothing to record
      part.xhr = null;
      if (xhr.status === 200 && xhr.getResponseHeader("ETag")) {
        part.done = true;
        part.etag = xhr.getResponseHeader("ETag");
        part.tries = 0;
        showProgress(upload);
        carryOn(upload);
      } else {
        partFailed(upload, part, xhr.status);
      }
      pump();
    });
    xhr.send(upload.file.slice((part.number - 1) * upload.partSize, part.number * upload.partSize));
  }

  // Send the part again later: at once when the connection comes back, else with backoff. A
  // refusal (403: the URL expired) gets fresh URLs first. Too many failures pause the file.
  function partFailed(upload, part, status) {
    part.loaded = 0;
    part.tries = (part.tries || 0) + 1;
    if (part.tries >= TRIES_PER_PART) {
      part.tries = 0;
      pause(upload, "The connection keeps failing. Resume when it is back: the parts sent are kept.");
      return;
    }
    var delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * Math.pow(2, part.tries - 1));
    delay = delay / 2 + Math.random() * delay / 2;
    part.waiting = true;
    upload.rows.setState("uploading", "Retrying", "The connection failed; trying again…");
    var again = function () {
      part.waiting = false;
      if (upload.state === "sending") upload.rows.setState("uploading", "Uploading");
      pump();
    };
    if (status === 403) {
      window.setTimeout(function () { freshUrls(upload).then(again, again); }, delay);
    } else if (!navigator.onLine) {
      window.addEventListener("online", again, { once: true });
    } else {
      window.setTimeout(again, delay);
    }
  }

  function freshUrls(upload) {
    return api(urlOf(upload.id, "parts"), "GET").then(function (answer) {
      if (answer.status !== 200) throw new Error(reasonOf(answer));
      applyStored(upload, answer.data);
    });
  }

  // What the media host holds: those parts are done; the others get the fresh URLs.
  function applyStored(upload, listing) {
    var stored = {};
    listing.parts.forEach(function (p) { stored[p.number] = p; });
    listing.missing.forEach(function (p) {
      var part = upload.parts[p.number - 1];
      part.url = p.url;
      part.done = false;
    });
    upload.parts.forEach(function (part) {
      var held = stored[part.number];
      if (held && held.size === part.size) {
        part.done = true;
        part.etag = held.etag;
      }
    });
  }

  function makeParts(size, partSize) {
    var parts = [];
    for (var number = 1; (number - 1) * partSize < size; number += 1) {
      parts.push({
        number: number, size: Math.min(partSize, size - (number - 1) * partSize),
        loaded: 0, done: false, url: null, xhr: null,
      });
    }
    return parts;
  }

  function showProgress(upload) {
    var percent = Math.floor((sentOf(upload) / upload.file.size) * 100);
    upload.row.progress.value = percent;
    upload.row.percent.textContent = percent + "%";
  }

  // --- one file's life --------------------------------------------------------------------------

  function controls(upload) {
    var actions = [];
    if (upload.state === "sending") {
      actions.push(button("Pause", function () { pause(upload); }));
    } else if (upload.state === "paused") {
      actions.push(button("Resume", function () { resume(upload); }));
    }
    if (upload.state === "sending" || upload.state === "paused") {
      actions.push(button("Cancel", function () { cancel(upload); }));
    }
    actions.forEach(function (b) { b.setAttribute("aria-label", b.textContent + " " + upload.file.name); });
    upload.row.actions.replaceChildren.apply(upload.row.actions, actions);
  }

  function stopParts(upload) {
    upload.parts.forEach(function (part) {
      var xhr = part.xhr;
      part.xhr = null;
      part.loaded = 0;
      if (xhr) xhr.abort();
    });
    showProgress(upload);
  }

  function pause(upload, why) {
    if (upload.state !== "sending") return;
    upload.state = "paused";
    stopParts(upload);
    upload.rows.setState("paused", "Paused", why);
    controls(upload);
    upload.rows.released();
    updateSummary();
  }

  function resume(upload) {
    if (upload.state !== "paused") return;
    upload.state = "sending";
    upload.rows.setState("uploading", "Uploading");
    controls(upload);
    // URLs may have expired while paused: ask again what is stored, with fresh URLs.
    var next = function () { carryOn(upload); };
    freshUrls(upload).then(next, next);
  }

  function carryOn(upload) {
    if (upload.state !== "sending") return;
    if (upload.parts.every(function (p) { return p.done; })) finishUpload(upload);
    else pump();
  }

  // Stop sending and drop what the media host holds of it (the server aborts the upload).
  function cancel(upload) {
    upload.state = "cancelled";
    stopParts(upload);
    upload.row.actions.replaceChildren();
    forget(upload.id);
    api(urlOf(upload.id), "DELETE").then(upload.rows.cancelled, upload.rows.cancelled);
    upload.rows.released();
    updateSummary();
  }

  function finishUpload(upload) {
    upload.state = "completing";
    upload.row.actions.replaceChildren();
    upload.rows.setState("uploading", "Checking");
    var parts = upload.parts.map(function (p) { return { number: p.number, etag: p.etag }; });
    api(urlOf(upload.id, "complete"), "POST", { parts: upload.single ? [] : parts }).then(
      function (answer) {
        if (answer.status === 202) {
          upload.state = "done";
          forget(upload.id);
          upload.rows.accepted(answer.data);
        } else if (answer.status === 409 && !upload.single) {
          // The media host lacks a part as sent: send what is missing again.
          upload.state = "sending";
          controls(upload);
          freshUrls(upload).then(pump, function () { failUpload(upload, reasonOf(answer)); });
          return;
        } else {
          upload.state = "failed";
          forget(upload.id);
          upload.rows.refused(reasonOf(answer));
        }
        upload.rows.released();
        updateSummary();
      },
      function () {
        upload.state = "sending";
        pause(upload, "The server could not be reached to finish. Resume when the connection is back.");
      }
    );
  }

  function failUpload(upload, message) {
    upload.state = "failed";
    upload.rows.refused(message);
    upload.rows.released();
    updateSummary();
  }

  // A small file: one presigned POST of the whole file (no parts to resume).
  function sendSingle(upload, post) {
    var part = upload.parts[0];
    part.url = post.url;
    var xhr = new XMLHttpRequest();
    part.xhr = xhr;
    xhr.open("POST", post.url);
    xhr.upload.addEventListener("progress", function (event) {
      part.loaded = event.loaded * (part.size / (event.total || part.size));
      showProgress(upload);
    });
    xhr.addEventListener("loadend", function () {
      if (part.xhr !== xhr) return; // cancelled
      part.xhr = null;
      if (xhr.status >= 200 && xhr.status < 300) {
        part.done = true;
        finishUpload(upload);
      } else {
        upload.state = "failed";
        upload.rows.failed("The upload was interrupted. Check your connection and try again.");
        upload.rows.released();
        updateSummary();
      }
      pump();
    });
    var body = new FormData();
    Object.keys(post.fields).forEach(function (name) { body.append(name, post.fields[name]); });
    body.append("file", upload.file);
    xhr.send(body);
  }

  function begin(upload, listing) {
    upload.state = "sending";
    uploads.push(upload);
    upload.rows.setState("uploading", "Uploading");
    if (listing.fields) {
      upload.single = true;
      upload.parts = makeParts(upload.file.size, upload.file.size);
      upload.row.actions.replaceChildren(button("Cancel", function () { cancel(upload); }));
      sendSingle(upload, listing);
      return;
    }
    upload.partSize = listing.part_size;
    upload.parts = makeParts(upload.file.size, upload.partSize);
    if (listing.missing) {
      applyStored(upload, listing);
    } else {
      listing.parts.forEach(function (p) { upload.parts[p.number - 1].url = p.url; });
    }
    remember(upload);
    showProgress(upload);
    controls(upload);
    carryOn(upload);
  }

  function startNew(upload) {
    var file = upload.file;
    api(form.dataset.directUrl, "POST", {
      filename: file.name, size: file.size, content_type: file.type,
    }).then(
      function (answer) {
        if (answer.status === 501) return upload.rows.throughWeb();
        if (answer.status !== 201) {
          upload.rows.refused(reasonOf(answer));
          upload.rows.released();
          return;
        }
        upload.id = answer.data.id;
        begin(upload, answer.data);
      },
      function () {
        upload.rows.failed("The server could not be reached. Check your connection and try again.");
        upload.rows.released();
      }
    );
  }

  // Continue an upload this browser remembers, from the parts the media host holds.
  function startAgain(upload, id) {
    api(urlOf(id, "parts"), "GET").then(
      function (answer) {
        if (answer.status !== 200) {
          forget(id); // finished, cancelled or swept meanwhile: start afresh
          return startNew(upload);
        }
        upload.id = id;
        var offer = document.querySelector('[data-unfinished="' + id + '"]');
        if (offer) offer.remove();
        refreshOffers();
        begin(upload, answer.data);
        upload.rows.setState("uploading", "Resuming",
          "Continuing from " + mb(sentOf(upload)) + " already stored.");
      },
      function () { startNew(upload); }
    );
  }

  // upload.js's entry point: `row` is its queue row, `on` what to tell it.
  function send(row, on) {
    var releasedOnce = false;
    var upload = {
      file: row.file, row: row, parts: [], state: "starting",
      rows: {
        setState: on.setState, accepted: on.accepted, refused: on.refused,
        failed: on.failed, cancelled: on.cancelled, throughWeb: on.throughWeb,
        // The file no longer counts among those being sent (paused or ended), once.
        released: function () {
          if (!releasedOnce) on.done();
          releasedOnce = true;
        },
      },
    };
    var id = rememberedFor(row.file);
    if (id) startAgain(upload, id);
    else startNew(upload);
  }

  // --- after a reload: offer to resume what this browser remembers ------------------------------

  var offers = el("div", { id: "direct-unfinished", class: "unfinished", hidden: "" });
  if (queueList) summary.before(offers);

  function refreshOffers() {
    offers.hidden = !offers.querySelector("li");
  }

  function offerUnfinished() {
    var all = remembered();
    var ids = Object.keys(all);
    if (!ids.length) return;
    var list = el("ul", { class: "unfinished-list" });
    offers.replaceChildren(
      el("p", { class: "unfinished-title" }, ["Unfinished uploads from before. Choose the same file again to continue where it stopped:"]),
      list
    );
    ids.forEach(function (id) {
      var entry = all[id];
      api(urlOf(id, "parts"), "GET").then(function (answer) {
        if (answer.status !== 200) return forget(id);
        var stored = answer.data.parts.reduce(function (sum, p) { return sum + p.size; }, 0);
        var discard = button("Discard", function () {
          discard.disabled = true;
          api(urlOf(id), "DELETE").then(function () { forget(id); }, function () { discard.disabled = false; });
        });
        discard.setAttribute("aria-label", "Discard the unfinished upload of " + entry.name);
        list.append(el("li", { "data-unfinished": id }, [
          el("span", { class: "row-name" }, [entry.name]), " ",
          el("span", { class: "row-size" }, [mb(stored) + " of " + mb(entry.size) + " stored"]), " ",
          discard,
        ]));
        refreshOffers();
      });
    });
  }

  offerUnfinished();

  window.mediaDirectUpload = { send: send };
})();
