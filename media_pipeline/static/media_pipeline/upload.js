/* Upload page and gallery: drag-and-drop uploads with progress, live processing state,
   captions edited in place, failed uploads tried again, delete. Every form here also works
   without this file. */
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  var FINAL = ["ready", "failed"];
  var PARALLEL_UPLOADS = 3;
  var POLL_FIRST_MS = 500;
  var POLL_MAX_MS = 5000;
  var THUMB_SIZES = "64px";
  var TILE_SIZES = "(max-width: 600px) 50vw, 260px";
  var SOURCE_TYPES = { avif: "image/avif", webp: "image/webp" };

  // --- small helpers ------------------------------------------------------------------------

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (part) {
      return part.indexOf(name + "=") === 0;
    })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return cookie("csrftoken") || (field ? field.value : "");
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (attrs[key] !== null && attrs[key] !== undefined) node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) {
      node.append(child);
    });
    return node;
  }

  function megabytes(bytes) {
    return (bytes / 1048576).toFixed(1) + " MB";
  }

  function humanSize(bytes) {
    if (bytes < 1024) return bytes + " bytes";
    if (bytes < 1048576) return Math.round(bytes / 1024) + " KB";
    return megabytes(bytes);
  }

  function capitalised(word) {
    return word.charAt(0).toUpperCase() + word.slice(1);
  }

  var announcer = document.getElementById("announcer");

  // Screen readers hear each status change once, from one polite live region.
  function announce(text) {
    if (!announcer) return;
    var line = el("p", {}, [text]);
    announcer.append(line);
    while (announcer.childNodes.length > 5) announcer.firstChild.remove();
  }

  function api(url, method, body) {
    var headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  function errorOf(response, text) {
    try {
      var parsed = JSON.parse(text);
      if (parsed && parsed.error) return parsed.error;
    } catch (ignored) {
      // Not JSON: an HTML error page from a proxy or the CSRF check.
    }
    if (response.status === 403) return "Your session has expired. Reload the page and log in again.";
    if (response.status === 401) return "You have been logged out. Reload the page and log in again.";
    if (response.status === 413) return "The file is larger than the server accepts.";
    return "The server could not take this file (error " + response.status + "). Please try again.";
  }

  // Ask the server to process a failed upload again, from its original. Resolves to the
  // upload, queued again; rejects with what to tell the user (the server's words if any).
  function processAgain(apiUrl) {
    return api(apiUrl + "retry/", "POST").then(
      function (response) {
        return response.text().then(function (text) {
          if (response.status !== 202) throw new Error(errorOf(response, text));
          return JSON.parse(text);
        });
      },
      function () {
        throw new Error("The server could not be reached. Check your connection and try again.");
      }
    );
  }

  // The server's renditions as a <picture>: the browser picks the size and format it needs.
  function picture(upload, sizes) {
    var byFormat = {};
    upload.renditions.forEach(function (r) {
      (byFormat[r.format] = byFormat[r.format] || []).push(r);
    });
    var jpeg = byFormat.jpeg;
    if (!jpeg || !jpeg.length) return null;
    var srcset = function (list) {
      return list.map(function (r) { return r.url + " " + r.width + "w"; }).join(", ");
    };
    var smallest = jpeg.reduce(function (a, b) { return a.width <= b.width ? a : b; });
    var node = el("picture");
    Object.keys(SOURCE_TYPES).forEach(function (format) {
      if (byFormat[format]) {
        node.append(el("source", { type: SOURCE_TYPES[format], sizes: sizes, srcset: srcset(byFormat[format]) }));
      }
    });
    node.append(el("img", {
      sizes: sizes, srcset: srcset(jpeg), src: smallest.url, width: smallest.width,
      height: smallest.height, alt: upload.alt_text || upload.caption || "", decoding: "async",
    }));
    return node;
  }

  // Follow an upload until it is final: pushed by live.js when its stream is open, else by
  // asking for its state, waiting longer each time nothing changed.
  function watch(url, onChange) {
    var fallback = function () { poll(url, onChange); };
    if (window.mediaLive && window.mediaLive.follow(url, onChange, fallback)) return;
    fallback();
  }

  function poll(url, onChange) {
    var delay = POLL_FIRST_MS;
    var last = null;
    function tick() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 404) {
            onChange(null);
            return true;
          }
          if (!response.ok) return false;
          return response.json().then(function (upload) {
            // A new rendition is news too: the thumbnail comes before the larger sizes.
            var seen = upload.status + ":" + upload.renditions.length + ":" + upload.duplicate_of;
            if (seen !== last) {
              last = seen;
              delay = POLL_FIRST_MS;
              onChange(upload);
            }
            return FINAL.indexOf(upload.status) >= 0;
          });
        })
        .catch(function () { return false; })
        .then(function (done) {
          if (done) return;
          delay = Math.min(delay * 1.6, POLL_MAX_MS);
          window.setTimeout(tick, delay);
        });
    }
    window.setTimeout(tick, delay);
  }

  function setPill(pill, state, label) {
    pill.dataset.state = state;
    pill.textContent = label || capitalised(state);
  }

  // --- gallery tiles ------------------------------------------------------------------------

  var gallery = document.getElementById("gallery");
  var template = document.getElementById("tile-template");

  function fillTile(tile, upload) {
    tile.dataset.upload = upload.id;
    tile.dataset.state = upload.status;
    tile.dataset.apiUrl = upload.url;
    tile.querySelectorAll("a").forEach(function (a) { a.href = upload.page; });
    tile.querySelector(".tile-name").textContent = upload.name;
    setPill(tile.querySelector(".pill"), upload.status);
    var animated = tile.querySelector(".animated-mark");
    if (animated) animated.hidden = !upload.animated;
    var error = tile.querySelector(".tile-error");
    error.textContent = upload.error || "";
    error.hidden = !upload.error;
    var retry = tile.querySelector(".retry-form");
    if (retry) {
      retry.hidden = upload.status !== "failed";
      retry.querySelector("button").disabled = false;
      retry.querySelector(".visually-hidden").textContent = " " + upload.name;
    }
    var image = tile.querySelector(".tile-image");
    var pic = upload.status !== "failed" ? picture(upload, TILE_SIZES) : null;
    if (window.mediaLive) window.mediaLive.decorate(tile, upload);
    if (pic) {
      image.replaceChildren(pic);
    } else {
      var placeholder = image.querySelector(".placeholder");
      if (placeholder) {
        placeholder.dataset.state = upload.status;
        placeholder.firstElementChild.textContent =
          upload.status === "failed" ? "Not processed" : capitalised(upload.status) + "…";
      }
    }
    tile.querySelectorAll("form").forEach(function (form) {
      form.action = upload.page;
      form.dataset.apiUrl = upload.url;
      form.dataset.name = upload.name;
      var next = form.querySelector("input[name=next]");
      if (next) next.value = window.location.pathname + window.location.search;
    });
    var input = tile.querySelector(".caption-edit input[name=caption]");
    var label = tile.querySelector(".caption-edit label");
    input.id = "caption-" + upload.id;
    label.htmlFor = input.id;
    label.textContent = "Caption of " + upload.name;
    // The server's caption is the saved one, even while the user is typing another.
    if (document.activeElement !== input) input.value = upload.caption || "";
    input.dataset.saved = upload.caption || "";
    tile.querySelector(".delete-form .visually-hidden").textContent = " " + upload.name;
    // library.js fills in its own parts of the tile (selection, alt text).
    tile.dispatchEvent(new CustomEvent("upload:tile", { bubbles: true, detail: upload }));
  }

  // "N in all" follows what this page changes: each upload it has sent counts once when
  // accepted, each one deleted (here, or found gone) once when its tile goes.
  var galleryCount = document.getElementById("gallery-count");
  var counted = {};

  function recount(uploadId, delta) {
    if (!galleryCount || !uploadId || counted[uploadId] === delta) return;
    counted[uploadId] = delta;
    var total = Math.max(0, Number(galleryCount.dataset.count || 0) + delta);
    galleryCount.dataset.count = String(total);
    galleryCount.querySelector(".gallery-count-number").textContent = String(total);
    galleryCount.hidden = total === 0;
  }

  function addTile(upload) {
    if (!gallery || !template || gallery.dataset.firstPage !== "true") return;
    if (gallery.querySelector('[data-upload="' + upload.id + '"]')) return;
    var tile = template.content.firstElementChild.cloneNode(true);
    fillTile(tile, upload);
    enhanceTile(tile);
    gallery.prepend(tile);
    recount(upload.id, +1); // sent from here or from another tab: once either way
    var empty = document.getElementById("gallery-empty");
    if (empty) empty.hidden = true;
  }

  function updateTile(upload) {
    if (!gallery) return;
    var tile = gallery.querySelector('[data-upload="' + upload.id + '"]');
    if (tile) fillTile(tile, upload);
  }

  function removeTile(tile) {
    recount(tile.dataset.upload, -1);
    var next = tile.nextElementSibling || tile.previousElementSibling;
    tile.remove();
    if (gallery && !gallery.children.length) {
      var empty = document.getElementById("gallery-empty");
      if (empty) empty.hidden = false;
    }
    var focusTarget = next ? next.querySelector(".tile-name") : document.getElementById("gallery-title");
    if (focusTarget) {
      if (!next) focusTarget.tabIndex = -1;
      focusTarget.focus();
    }
  }

  // --- captions and delete ------------------------------------------------------------------

  function enhanceCaption(form) {
    var input = form.querySelector("input[name=caption]");
    var note = form.querySelector(".form-note");
    input.dataset.saved = input.value;

    function show(text, kind) {
      if (!note) return;
      note.textContent = text;
      note.dataset.kind = kind;
    }

    var sending = null; // the caption on its way to the server, if any

    function save() {
      var caption = input.value.trim();
      // Enter fires both "change" and "submit": the same caption goes once.
      if (caption === input.dataset.saved || caption === sending) return;
      sending = caption;
      show("Saving…", "busy");
      api(form.dataset.apiUrl, "PATCH", { caption: caption })
        .then(function (response) {
          return response.text().then(function (text) {
            if (!response.ok) throw new Error(errorOf(response, text));
            var upload = JSON.parse(text);
            input.dataset.saved = upload.caption;
            if (document.activeElement !== input) input.value = upload.caption;
            // The caption stands in for missing alt text: the picture says the new one.
            var scope = form.closest(".tile, #upload-detail");
            if (scope) {
              scope.querySelectorAll(".tile-image img, .detail-image img").forEach(function (img) {
                img.alt = upload.alt_text || upload.caption || "";
              });
            }
            show("Saved", "ok");
            announce("Caption of " + form.dataset.name + " saved.");
          });
        })
        .catch(function (error) {
          var message = error.message || "The caption could not be saved.";
          show(message, "error");
          announce("Caption of " + form.dataset.name + " not saved: " + message);
        })
        .then(function () { sending = null; });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      save();
    });
    input.addEventListener("change", save);
    input.addEventListener("input", function () {
      show(input.value.trim() === input.dataset.saved ? "" : "Unsaved", "");
    });
    // Escape takes back what was typed: the saved caption returns, and leaving the field
    // then has nothing to save.
    input.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || input.value === input.dataset.saved) return;
      event.preventDefault();
      input.value = input.dataset.saved;
      show("", "");
    });
  }

  function enhanceDelete(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.dataset.name;
      if (!window.confirm("Delete " + name + " and all its sizes? This cannot be undone.")) return;
      var button = form.querySelector("button");
      button.disabled = true;
      api(form.dataset.apiUrl, "DELETE")
        .then(function (response) {
          if (response.status !== 204 && response.status !== 404) {
            return response.text().then(function (text) { throw new Error(errorOf(response, text)); });
          }
          announce(name + " deleted.");
          if (form.dataset.after) {
            window.location.assign(form.dataset.after);
            return;
          }
          var tile = form.closest(".tile");
          if (tile) removeTile(tile);
        })
        .catch(function (error) {
          button.disabled = false;
          announce(name + " was not deleted: " + error.message);
          window.alert(name + " was not deleted: " + error.message);
        });
    });
  }

  // Follow the tile's upload until it is ready or failed; once at a time per tile.
  function watchTile(tile) {
    if (tile.watching || !tile.dataset.apiUrl) return;
    tile.watching = true;
    watch(tile.dataset.apiUrl, function (upload) {
      if (!upload) return removeTile(tile);
      fillTile(tile, upload);
      if (FINAL.indexOf(upload.status) >= 0) tile.watching = false;
    });
  }

  // "Try again" on a failed upload: the server queues it again, the page follows it.
  function enhanceRetry(form, on) {
    // Why it was not tried again; beside the form, so it stays when the form hides.
    var note = form.parentNode.querySelector(".retry-note");

    function show(text) {
      if (note) note.textContent = text;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var name = form.dataset.name;
      var button = form.querySelector("button");
      if (button.disabled) return;
      button.disabled = true;
      show("");
      processAgain(form.dataset.apiUrl).then(
        function (upload) {
          var hadFocus = document.activeElement === button;
          button.disabled = false;
          form.hidden = true;
          announce(name + ": queued again.");
          on.queued(upload, hadFocus);
        },
        function (error) {
          button.disabled = false;
          show(error.message);
          announce(name + " was not tried again: " + error.message);
          on.refused();
        }
      );
    });
  }

  function enhanceTile(tile) {
    tile.querySelectorAll("form.caption-edit").forEach(enhanceCaption);
    tile.querySelectorAll("form.retry-form").forEach(function (form) {
      enhanceRetry(form, {
        queued: function (upload, hadFocus) {
          fillTile(tile, upload);
          watchTile(tile);
          // The button is gone: keep the keyboard where it was, on this tile.
          if (hadFocus) tile.querySelector(".tile-name").focus();
        },
        // Not failed any more (tried again elsewhere, or deleted): show what it is now.
        refused: function () { watchTile(tile); },
      });
    });
    tile.querySelectorAll("form.delete-form").forEach(enhanceDelete);
    if (FINAL.indexOf(tile.dataset.state) < 0) watchTile(tile);
  }

  // --- the upload queue ---------------------------------------------------------------------

  var form = document.getElementById("upload-form");
  var queue = document.getElementById("upload-queue");
  var waiting = [];
  var running = 0;

  function makeRow(file) {
    var row = {
      file: file,
      thumb: el("div", { class: "row-thumb", "aria-hidden": "true" }),
      name: el("span", { class: "row-name" }, [file.name]),
      progress: el("progress", { max: "100", value: "0", "aria-label": "Upload of " + file.name }),
      pill: el("span", { class: "pill" }),
      percent: el("span", { class: "row-percent", "aria-hidden": "true" }),
      message: el("p", { class: "row-message", hidden: "" }),
      actions: el("div", { class: "row-actions" }),
    };
    row.node = el("li", { class: "row" }, [
      row.thumb,
      el("div", { class: "row-main" }, [
        el("div", { class: "row-head" }, [row.name, el("span", { class: "row-size" }, [humanSize(file.size)]), row.percent]),
        row.progress,
        row.message,
      ]),
      el("div", { class: "row-side" }, [row.pill, row.actions]),
    ]);
    if (/^image\/(jpeg|png|gif|webp|avif)$/.test(file.type) && file.size < 20 * 1048576) {
      var preview = el("img", { src: URL.createObjectURL(file), alt: "" });
      preview.addEventListener("error", function () { preview.remove(); });
      preview.addEventListener("load", function () { URL.revokeObjectURL(preview.src); });
      row.thumb.append(preview);
    }
    setState(row, "waiting", "Waiting");
    return row;
  }

  function setState(row, state, label, message) {
    row.node.dataset.state = state;
    setPill(row.pill, state, label);
    row.message.textContent = message || "";
    row.message.hidden = !message;
  }

  // The worker looks for a duplicate first thing; the note stays once the upload is ready.
  function duplicateNote(upload) {
    return upload.duplicate_of ? "This looks like an image already in your library." : "";
  }

  function finish(row, state, message, spoken) {
    setState(row, state, state === "refused" ? "Not accepted" : null, message);
    row.progress.hidden = true;
    announce(spoken || row.file.name + ": " + message);
  }

  function offerRetry(row) {
    var retry = el("button", { type: "button", class: "small" }, ["Try again"]);
    retry.addEventListener("click", function () {
      retry.remove();
      row.progress.hidden = false;
      row.progress.value = 0;
      setState(row, "waiting", "Waiting");
      waiting.push(row);
      pump();
    });
    row.actions.replaceChildren(retry);
  }

  function offerProcessAgain(row) {
    var retry = el("button", { type: "button", class: "small" }, ["Try again"]);
    retry.addEventListener("click", function () {
      retry.disabled = true;
      processAgain(row.upload.url).then(
        function (upload) {
          row.actions.replaceChildren();
          announce(upload.name + ": queued again.");
          onProcessing(row, upload);
          watch(upload.url, function (latest) { onProcessing(row, latest); });
        },
        function (error) {
          retry.disabled = false;
          row.message.textContent = error.message;
          row.message.hidden = false;
          announce(row.upload.name + " was not tried again: " + error.message);
        }
      );
    });
    row.actions.replaceChildren(retry);
  }

  function onProcessing(row, upload) {
    if (!upload) {
      finish(row, "failed", "This upload was deleted.");
      return;
    }
    row.upload = upload;
    if (upload.status === "ready") {
      var pic = picture(upload, THUMB_SIZES);
      if (pic) row.thumb.replaceChildren(pic);
      row.name.replaceChildren(el("a", { href: upload.page }, [upload.name]));
      setState(row, "ready", null, duplicateNote(upload));
      row.progress.hidden = true;
      announce(upload.name + " is ready.");
      addTile(upload);
      updateTile(upload);
    } else if (upload.status === "failed") {
      finish(row, "failed", upload.error || "It could not be processed.",
        upload.name + " failed: " + (upload.error || "it could not be processed."));
      offerProcessAgain(row);
      updateTile(upload);
    } else {
      var early = picture(upload, THUMB_SIZES);
      if (early) row.thumb.replaceChildren(early);
      setState(row, upload.status, null, duplicateNote(upload));
      row.progress.hidden = false;
      row.progress.removeAttribute("value");
      announce(upload.name + " is " + upload.status + ".");
      updateTile(upload);
    }
  }

  // Straight to the media host (direct_upload.js) when the page offers it; else through here.
  function send(row) {
    if (window.mediaDirectUpload && form.dataset.directUrl && !row.throughWeb) return sendDirect(row);
    running += 1;
    setState(row, "uploading", "Uploading");
    announce(row.file.name + ": uploading.");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.apiUrl);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable && event.total) {
        var percent = Math.round((event.loaded / event.total) * 100);
        row.progress.value = percent;
        row.percent.textContent = percent + "%";
      }
    });
    xhr.upload.addEventListener("load", function () {
      // Every byte is sent; the server now checks the file.
      row.progress.value = 100;
      row.percent.textContent = "";
      setState(row, "uploading", "Checking");
    });
    xhr.addEventListener("load", function () {
      var response = { status: xhr.status };
      if (xhr.status === 202) {
        var upload = JSON.parse(xhr.responseText);
        recount(upload.id, +1);
        row.progress.removeAttribute("value");
        onProcessing(row, upload);
        watch(upload.url, function (latest) { onProcessing(row, latest); });
      } else {
        var message = errorOf(response, xhr.responseText);
        finish(row, "refused", message, row.file.name + " was not accepted: " + message);
      }
    });
    xhr.addEventListener("error", function () {
      finish(row, "error", "The upload was interrupted. Check your connection and try again.");
      offerRetry(row);
    });
    xhr.addEventListener("loadend", function () {
      running -= 1;
      pump();
    });
    var body = new FormData();
    body.append("file", row.file, row.file.name);
    xhr.send(body);
  }

  function sendDirect(row) {
    running += 1;
    window.mediaDirectUpload.send(row, {
      setState: function (state, label, message) { setState(row, state, label, message); },
      accepted: function (upload) {
        row.progress.removeAttribute("value");
        row.percent.textContent = "";
        onProcessing(row, upload);
        watch(upload.url, function (latest) { onProcessing(row, latest); });
      },
      refused: function (message) { finish(row, "refused", message, row.file.name + " was not accepted: " + message); },
      failed: function (message) { finish(row, "error", message); offerRetry(row); },
      cancelled: function () { finish(row, "cancelled", "Cancelled. Nothing of it was kept."); },
      throughWeb: function () { row.throughWeb = true; running -= 1; send(row); },
      done: function () { running -= 1; pump(); },
    });
  }

  function pump() {
    while (running < PARALLEL_UPLOADS && waiting.length) send(waiting.shift());
  }

  function addFiles(files) {
    var maxBytes = Number(form.dataset.maxBytes || 0);
    queue.hidden = false;
    Array.prototype.forEach.call(files, function (file) {
      var row = makeRow(file);
      queue.prepend(row.node);
      if (maxBytes && file.size > maxBytes) {
        // Same words as the server's; it would refuse the file after the whole upload.
        finish(row, "refused",
          "The file is " + megabytes(file.size) + "; the limit is " +
          Math.round(maxBytes / 1048576) + " MB.");
        return;
      }
      waiting.push(row);
    });
    announce(files.length === 1 ? "1 file added." : files.length + " files added.");
    pump();
  }

  function enhanceUploader() {
    if (!form || !queue || !window.FormData || !window.XMLHttpRequest) return;
    var input = form.querySelector("input[type=file]");
    var zone = document.getElementById("dropzone");
    input.required = false;

    input.addEventListener("change", function () {
      if (input.files.length) addFiles(input.files);
      input.value = "";
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (input.files.length) addFiles(input.files);
      input.value = "";
    });

    var depth = 0;
    zone.addEventListener("dragenter", function (event) {
      event.preventDefault();
      depth += 1;
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", function () {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("dragging");
    });
    zone.addEventListener("dragover", function (event) {
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      depth = 0;
      zone.classList.remove("dragging");
      if (event.dataTransfer && event.dataTransfer.files.length) addFiles(event.dataTransfer.files);
    });
    // A file dropped beside the zone would make the browser leave the page to show it.
    ["dragover", "drop"].forEach(function (type) {
      window.addEventListener(type, function (event) {
        if (!zone.contains(event.target)) event.preventDefault();
      });
    });
  }

  // --- the upload's own page ----------------------------------------------------------------

  // Whether the user is writing in one of the page's texts: in it, or left it unsaved.
  function typing(detail) {
    var fields = detail.querySelectorAll("input[type=text], textarea");
    return Array.prototype.some.call(fields, function (field) {
      var saved = field.dataset.saved === undefined ? field.defaultValue : field.dataset.saved;
      return field === document.activeElement || field.value.trim() !== saved.trim();
    });
  }

  // The page lists the renditions (or the reason and "Try again") once there is an outcome:
  // a reload shows them. Not under the user's typing, though: then the state and picture
  // change in place, and a button offers the reload when they are ready for it.
  function showOutcome(detail, upload) {
    if (!typing(detail)) {
      window.location.reload();
      return;
    }
    detail.dataset.state = upload.status;
    setPill(detail.querySelector(".pill"), upload.status);
    var pic = upload.status === "ready" ? picture(upload, "(max-width: 900px) 100vw, 860px") : null;
    if (pic) detail.querySelector(".detail-image").replaceChildren(pic);
    var hint = detail.querySelector(".detail-state .hint");
    if (hint) hint.remove();
    var show = el("button", { type: "button", class: "small secondary show-outcome" }, [
      upload.status === "ready" ? "Processing finished — show renditions" : "Processing failed — show why",
    ]);
    show.addEventListener("click", function () { window.location.reload(); });
    detail.querySelector(".detail-head").append(show);
    announce(upload.name + " is " + upload.status + ".");
  }

  // Follow the upload until it is ready or failed; once at a time.
  function watchDetail(detail) {
    if (detail.watching) return;
    detail.watching = true;
    watch(detail.dataset.apiUrl, function (upload) {
      if (!upload) {
        window.location.assign("/");
      } else if (FINAL.indexOf(upload.status) >= 0) {
        detail.watching = false;
        // A page that shows this outcome already stays as it is.
        if (upload.status !== detail.dataset.state) showOutcome(detail, upload);
      } else if (upload.status !== detail.dataset.state || upload.renditions.length) {
        var early = picture(upload, "(max-width: 900px) 100vw, 860px");
        if (early) detail.querySelector(".detail-image").replaceChildren(early);
        if (window.mediaLive) window.mediaLive.decorate(detail, upload);
        if (upload.status === detail.dataset.state) return;
        detail.dataset.state = upload.status;
        setPill(detail.querySelector(".pill"), upload.status);
        detail.querySelectorAll(".retry-form").forEach(function (form) { form.hidden = true; });
        announce(upload.name + " is " + upload.status + ".");
      }
    });
  }

  // Queued again after "Try again": the reason goes, a placeholder waits for the picture.
  function showQueuedAgain(detail, upload, hadFocus) {
    detail.dataset.state = upload.status;
    setPill(detail.querySelector(".pill"), upload.status);
    var state = detail.querySelector(".detail-state");
    if (state && !state.querySelector(".hint")) {
      state.append(" ", el("span", { class: "hint" }, ["This page updates by itself until the image is ready."]));
    }
    var error = detail.querySelector(".error-box");
    if (error) error.hidden = true;
    var image = detail.querySelector(".detail-image");
    var placeholder = image && image.querySelector(".placeholder");
    if (placeholder) {
      placeholder.dataset.state = upload.status;
      placeholder.firstElementChild.textContent = capitalised(upload.status) + "…";
      image.hidden = false;
    }
    var heading = detail.querySelector("h1");
    if (hadFocus && heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }

  function enhanceDetail() {
    var detail = document.getElementById("upload-detail");
    if (!detail) return;
    detail.querySelectorAll("form.retry-form").forEach(function (form) {
      enhanceRetry(form, {
        queued: function (upload, hadFocus) {
          showQueuedAgain(detail, upload, hadFocus);
          watchDetail(detail);
        },
        // Not failed any more (tried again elsewhere, or deleted): catch up with it.
        refused: function () { watchDetail(detail); },
      });
    });
    if (FINAL.indexOf(detail.dataset.state) < 0) watchDetail(detail);
  }

  // For library.js: follow a tile its bulk "Try again" queued.
  // And keep "N in all" right when it deletes tiles.
  window.mediaGallery = { follow: watchTile, recount: recount };
  // Uploads pushed by live.js (this page's or another tab's): new ones join the gallery.
  document.addEventListener("media:upload", function (event) {
    addTile(event.detail);
    updateTile(event.detail);
  });

  enhanceUploader();
  if (gallery) gallery.querySelectorAll(".tile").forEach(enhanceTile);
  document.querySelectorAll("main > article form.caption-edit").forEach(enhanceCaption);
  document.querySelectorAll("form.detail-delete").forEach(enhanceDelete);
  enhanceDetail();
})();
