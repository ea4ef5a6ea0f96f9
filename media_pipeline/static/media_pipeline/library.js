/* The library: alt text and description edited in place, several uploads selected and
   deleted or tried again at once, grid or list (remembered), a rendition's URL copied.
   Every form here also works without this file; this one saves without leaving the page. */
(function () {
  "use strict";

  var VIEW_KEY = "media-gallery-view";

  // --- small helpers (as upload.js has them: each file stands alone) ---------------------

  function csrfToken() {
    var found = document.cookie.split("; ").filter(function (part) {
      return part.indexOf("csrftoken=") === 0;
    })[0];
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return found ? decodeURIComponent(found.slice(10)) : field ? field.value : "";
  }

  function announce(text) {
    var announcer = document.getElementById("announcer");
    if (!announcer) return;
    var line = document.createElement("p");
    line.textContent = text;
    announcer.append(line);
    while (announcer.childNodes.length > 5) announcer.firstChild.remove();
  }

  // JSON to the API; resolves to the parsed answer, rejects with what to tell the user.
  function send(url, method, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {
        Accept: "application/json",
        "Content-Type": "application/json",
        "X-CSRFToken": csrfToken(),
      },
      body: JSON.stringify(body),
    }).then(
      function (response) {
        return response.text().then(function (text) {
          var parsed = null;
          try {
            parsed = JSON.parse(text);
          } catch (ignored) {
            // An HTML error page (a proxy, the CSRF check): said below in plain words.
          }
          if (response.ok && parsed) return parsed;
          if (parsed && parsed.error) throw new Error(parsed.error);
          if (response.status === 403) throw new Error("Your session has expired. Reload the page and log in again.");
          throw new Error("The server could not do it (error " + response.status + "). Please try again.");
        });
      },
      function () {
        throw new Error("The server could not be reached. Check your connection and try again.");
      }
    );
  }

  function showNote(form, text, kind) {
    var note = form.querySelector(".text-note");
    if (!note) return;
    note.textContent = text;
    note.dataset.kind = kind || "";
  }

  // What an <img> says in place of the picture: its alt text, else its caption, else
  // nothing (alt="") rather than a file name; the owner sees a "Needs alt text" mark.
  function altOf(upload) {
    return upload.alt_text || upload.caption || "";
  }

  function showAlt(scope, upload) {
    scope.querySelectorAll(".tile-image img, .detail-image img").forEach(function (img) {
      img.alt = altOf(upload);
    });
    scope.querySelectorAll(".alt-flag").forEach(function (flag) {
      flag.hidden = !upload.needs_alt_text;
    });
    noteAlt(upload.id, upload.needs_alt_text);
  }

  // --- "Missing alt text (N)" and "N need alt text", kept right as the page changes ------

  var altCount = document.getElementById("missing-alt-count");
  var needsAlt = {}; // upload id -> whether it needs alt text, as last counted

  function showMissingAlt(count) {
    if (!altCount) return;
    altCount.dataset.count = String(count);
    altCount.textContent = "(" + count + ")";
    var summary = document.getElementById("alt-summary");
    if (!summary) return;
    summary.hidden = count === 0;
    summary.querySelector(".alt-flag").textContent = count + (count === 1 ? " needs" : " need") + " alt text";
    summary.querySelectorAll(".alt-them").forEach(function (word) {
      word.textContent = count === 1 ? "it" : "them";
    });
  }

  // An upload seen now needing alt text (or not, or deleted: null); the count follows.
  function noteAlt(id, needs) {
    if (!altCount || !id) return;
    var was = needsAlt[id] || false;
    var now = needs || false;
    if (needs === null) delete needsAlt[id];
    else needsAlt[id] = now;
    if (was !== now) showMissingAlt(Math.max(0, Number(altCount.dataset.count) + (now ? 1 : -1)));
  }

  // --- texts edited in place: a tile's alt text, the detail page's alt text and description

  function saveTexts(form) {
    var fields = form.querySelectorAll("[name=alt_text], [name=description]");
    var body = {};
    var changed = false;
    fields.forEach(function (field) {
      body[field.name] = field.value.trim();
      if (body[field.name] !== (field.dataset.saved || "")) changed = true;
    });
    // Enter fires both "change" and "submit": the same texts go once.
    var sending = JSON.stringify(body);
    if (!changed || form.sending === sending) return;
    form.sending = sending;
    showNote(form, "Saving…", "busy");
    var sent = send(form.dataset.apiUrl, "PATCH", body);
    sent.then(function () { form.sending = null; }, function () { form.sending = null; });
    sent.then(
      function (upload) {
        fields.forEach(function (field) {
          field.dataset.saved = upload[field.name];
          if (document.activeElement !== field) field.value = upload[field.name];
        });
        showAlt(form.closest(".tile, #upload-detail") || document, upload);
        showNote(form, "Saved", "ok");
        announce((fields.length > 1 ? "Alt text and description of " : "Alt text of ") + form.dataset.name + " saved.");
      },
      function (error) {
        showNote(form, error.message, "error");
        announce("Not saved: " + error.message);
      }
    );
  }

  function markSaved(form) {
    form.querySelectorAll("[name=alt_text], [name=description]").forEach(function (field) {
      field.dataset.saved = field.value.trim();
    });
  }

  document.querySelectorAll("form.alt-edit, form.texts-edit").forEach(markSaved);

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form.alt-edit, form.texts-edit");
    if (!form) return;
    event.preventDefault();
    saveTexts(form);
  });
  document.addEventListener("change", function (event) {
    // A tile's alt text saves when the field is left, as its caption does.
    var form = event.target.closest && event.target.closest("form.alt-edit");
    if (form && event.target.name === "alt_text") saveTexts(form);
  });
  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest("form.alt-edit, form.texts-edit");
    if (!form) return;
    var unsaved = event.target.value.trim() !== (event.target.dataset.saved || "");
    showNote(form, unsaved ? "Unsaved" : "", "");
  });
  // Escape in a tile's alt text takes back what was typed (nothing is saved on leaving).
  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Escape" || !field.closest || !field.closest("form.alt-edit")) return;
    if (field.name !== "alt_text" || field.value === (field.dataset.saved || "")) return;
    event.preventDefault();
    field.value = field.dataset.saved || "";
    showNote(field.form, "", "");
  });
  // The detail page's alt text and description save only with their button: ask before
  // leaving them (or any text edited in place) unsaved.
  window.addEventListener("beforeunload", function (event) {
    var fields = document.querySelectorAll("form.alt-edit [name=alt_text], form.texts-edit [name], form.caption-edit [name=caption]");
    var unsaved = Array.prototype.some.call(fields, function (field) {
      return field.dataset.saved !== undefined && field.value.trim() !== field.dataset.saved;
    });
    if (unsaved) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // --- the gallery: tiles kept in step with upload.js -----------------------------------

  var gallery = document.getElementById("gallery");
  var bulkForm = document.getElementById("bulk-form");

  // Ids, labels and texts of a tile's own parts; from the upload when there is one, else
  // from what upload.js wrote on the tile (a tile it just added, not yet in the page).
  function syncTile(tile, upload) {
    var id = upload ? upload.id : tile.dataset.upload;
    var name = upload ? upload.name : (tile.querySelector(".tile-name") || {}).textContent || "";
    if (!id) return;
    var box = tile.querySelector(".select-upload");
    if (box) {
      box.id = "select-" + id;
      box.value = id;
      var label = tile.querySelector(".select-label");
      label.htmlFor = box.id;
      label.textContent = "Select " + name;
    }
    var form = tile.querySelector("form.alt-edit");
    if (form) {
      form.action = tile.querySelector(".tile-name").getAttribute("href") || form.action;
      form.dataset.apiUrl = tile.dataset.apiUrl;
      form.dataset.name = name;
      var input = form.querySelector("[name=alt_text]");
      var altLabel = form.querySelector("label");
      input.id = "alt-" + id;
      altLabel.htmlFor = input.id;
      altLabel.textContent = "Alt text of " + name;
      form.querySelector("button .visually-hidden").textContent = " alt text of " + name;
      if (upload) {
        if (document.activeElement !== input) input.value = upload.alt_text || "";
        input.dataset.saved = upload.alt_text || "";
      }
      var next = form.querySelector("input[name=next]");
      if (next) next.value = window.location.pathname + window.location.search;
    }
    if (upload) showAlt(tile, upload);
  }

  function tiles() {
    return gallery ? Array.prototype.slice.call(gallery.querySelectorAll(".tile")) : [];
  }

  function selectedBoxes() {
    return tiles()
      .map(function (tile) { return tile.querySelector(".select-upload"); })
      .filter(function (box) { return box && box.checked; });
  }

  function updateBar() {
    if (!bulkForm) return;
    var boxes = tiles().map(function (tile) { return tile.querySelector(".select-upload"); });
    var chosen = boxes.filter(function (box) { return box && box.checked; }).length;
    document.getElementById("bulk-count").textContent = chosen + " selected";
    bulkForm.querySelectorAll("button[name=action]").forEach(function (button) {
      button.disabled = !chosen;
    });
    var all = document.getElementById("select-all");
    if (all) {
      all.checked = chosen > 0 && chosen === boxes.length;
      all.indeterminate = chosen > 0 && chosen < boxes.length;
      all.disabled = !boxes.length;
    }
    tiles().forEach(function (tile) {
      var box = tile.querySelector(".select-upload");
      tile.classList.toggle("selected", !!(box && box.checked));
    });
  }

  function removeTiles(ids) {
    tiles().forEach(function (tile) {
      if (ids.indexOf(tile.dataset.upload) >= 0) tile.remove();
    });
    var empty = document.getElementById("gallery-empty");
    if (empty && !tiles().length) empty.hidden = false;
  }

  // Queued again: the tile says so at once, and upload.js follows it to its outcome.
  function showQueued(ids) {
    tiles().forEach(function (tile) {
      if (ids.indexOf(tile.dataset.upload) < 0) return;
      tile.dataset.state = "queued";
      var pill = tile.querySelector(".pill");
      pill.dataset.state = "queued";
      pill.textContent = "Queued";
      var error = tile.querySelector(".tile-error");
      if (error) error.hidden = true;
      var retry = tile.querySelector(".retry-form");
      if (retry) retry.hidden = true;
      var placeholder = tile.querySelector(".placeholder");
      if (placeholder) {
        placeholder.dataset.state = "queued";
        placeholder.firstElementChild.textContent = "Queued…";
      }
      if (window.mediaGallery) window.mediaGallery.follow(tile);
    });
  }

  // The outcome stays beside the buttons; the page's status region has said it already.
  function say(text) {
    document.getElementById("bulk-note").textContent = text;
  }

  // The buttons are disabled while the request runs (and after it, with nothing selected):
  // a keyboard user who pressed one is put on the outcome rather than dropped to the page.
  function focusNote() {
    var note = document.getElementById("bulk-note");
    note.tabIndex = -1;
    note.focus();
  }

  function runBulk(action) {
    var boxes = selectedBoxes();
    if (!boxes.length) return;
    var ids = boxes.map(function (box) { return box.value; });
    var what = ids.length === 1 ? "1 image" : ids.length + " images";
    if (action === "delete" && !window.confirm("Delete " + what + " and all their sizes? This cannot be undone.")) return;
    var buttons = bulkForm.querySelectorAll("button[name=action]");
    var hadFocus = Array.prototype.indexOf.call(buttons, document.activeElement) >= 0;
    buttons.forEach(function (button) { button.disabled = true; });
    send(bulkForm.dataset.apiUrl, "POST", { action: action, ids: ids }).then(
      function (answer) {
        var done = [];
        var left = 0;
        answer.results.forEach(function (result) {
          if (result.outcome === "deleted" || result.outcome === "queued") done.push(result.id);
          else left += 1;
        });
        if (action === "delete") {
          removeTiles(answer.results.map(function (r) { return r.id; }));
        } else {
          showQueued(done);
          boxes.forEach(function (box) { box.checked = false; });
        }
        updateBar();
        var text = action === "delete" ? done.length + " deleted." : done.length + " queued again.";
        if (left) {
          text += action === "delete"
            ? " " + left + " were already gone."
            : " " + left + " left alone: only a failed upload is tried again.";
        }
        say(text);
        var heading = document.getElementById("gallery-title");
        if (action === "delete" && heading) {
          heading.tabIndex = -1;
          heading.focus();
        } else if (hadFocus) {
          focusNote();
        }
      },
      function (error) {
        updateBar();
        say("Nothing was changed: " + error.message);
        if (hadFocus) focusNote();
      }
    );
  }

  function enhanceGallery() {
    if (!gallery) return;
    tiles().forEach(function (tile) {
      syncTile(tile);
      var flag = tile.querySelector(".alt-flag");
      if (flag) needsAlt[tile.dataset.upload] = !flag.hidden;
    });
    gallery.addEventListener("upload:tile", function (event) {
      syncTile(event.target, event.detail);
    });
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        change.addedNodes.forEach(function (node) {
          if (node.classList && node.classList.contains("tile")) syncTile(node);
        });
        // A tile gone (deleted one by one, or several at once): the counts go down.
        change.removedNodes.forEach(function (node) {
          if (!node.classList || !node.classList.contains("tile")) return;
          if (window.mediaGallery) window.mediaGallery.recount(node.dataset.upload, -1);
          noteAlt(node.dataset.upload, null);
        });
      });
      updateBar();
    }).observe(gallery, { childList: true });
    gallery.addEventListener("change", function (event) {
      if (event.target.classList.contains("select-upload")) updateBar();
    });

    if (bulkForm) {
      var all = document.getElementById("select-all");
      all.addEventListener("change", function () {
        tiles().forEach(function (tile) {
          var box = tile.querySelector(".select-upload");
          if (box) box.checked = all.checked;
        });
        updateBar();
      });
      bulkForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var button = event.submitter;
        runBulk(button ? button.value : "delete");
      });
      updateBar();
    }
    // Back or forward to this page: the browser may bring back what was chosen in the
    // form before leaving (restored from its cache), which this page's URL does not
    // apply. The filters go back to those of the URL, and the bar counts the ticks shown.
    // (The template's autocomplete="off" keeps the browser from restoring them on a reload.)
    window.addEventListener("pageshow", function (event) {
      var filters = document.querySelector("form.library-filters");
      if (filters && event.persisted) filters.reset();
      updateBar();
    });
    enhanceViewToggle();
  }

  // --- grid or list, remembered in this browser -----------------------------------------

  function enhanceViewToggle() {
    var buttons = document.querySelectorAll(".view-toggle [data-view]");
    if (!buttons.length) return;

    function show(view) {
      gallery.classList.toggle("is-list", view === "list");
      buttons.forEach(function (button) {
        button.setAttribute("aria-pressed", String(button.dataset.view === view));
      });
    }

    var stored = null;
    try {
      stored = window.localStorage.getItem(VIEW_KEY);
    } catch (ignored) {
      // Storage refused (private mode): the choice lasts for this page only.
    }
    show(stored === "list" ? "list" : "grid");
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        show(button.dataset.view);
        try {
          window.localStorage.setItem(VIEW_KEY, button.dataset.view);
        } catch (ignored) {
          // As above.
        }
      });
    });
  }

  // --- a rendition's URL to the clipboard -----------------------------------------------

  function enhanceCopyButtons() {
    document.querySelectorAll("button.copy-url").forEach(function (button) {
      var label = button.firstChild;
      button.addEventListener("click", function () {
        var url = new URL(button.dataset.url, window.location.href).href;
        var copied = navigator.clipboard && window.isSecureContext
          ? navigator.clipboard.writeText(url)
          : Promise.reject(new Error("no clipboard"));
        copied.then(
          function () {
            label.textContent = "Copied";
            button.dataset.copied = "true";
            announce("Link copied.");
            window.setTimeout(function () {
              label.textContent = "Copy URL";
              delete button.dataset.copied;
            }, 2500);
          },
          function () {
            // No clipboard here (an insecure page, or refused): let the user copy it.
            window.prompt("Copy this link:", url);
          }
        );
      });
    });
  }

  enhanceGallery();
  enhanceCopyButtons();
})();
