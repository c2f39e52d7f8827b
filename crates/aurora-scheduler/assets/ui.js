// The scheduler UI's only script, no dependencies: keeps relative times fresh, refreshes pages
// that ask for it (data-refresh), and follows logs as they are written (pre#log). Its requests carry
// x-requested-by, which the scheduler asks of every change made with the session cookie (CSRF).
"use strict";
(function () {
  function relative(ms) {
    const d = Math.round((Date.now() - ms) / 1000), a = Math.abs(d);
    if (a < 5) return "just now";
    const amount = a < 60 ? a + "s" : a < 3600 ? Math.floor(a / 60) + "m"
      : a < 86400 ? Math.floor(a / 3600) + "h" : Math.floor(a / 86400) + "d";
    return d >= 0 ? amount + " ago" : "in " + amount;
  }
  function tick() {
    document.querySelectorAll("time[data-ms]").forEach(function (t) {
      t.textContent = relative(Number(t.dataset.ms));
    });
  }
  setInterval(tick, 10000);

  // Pages with data-refresh="N" reload their main part every N seconds while visible.
  const main = document.getElementById("main");
  if (main && main.dataset.refresh) {
    setInterval(async function () {
      if (document.hidden) return;
      try {
        const r = await fetch(location.href, { headers: { "accept": "text/html", "x-requested-by": "aurora-ui" } });
        if (!r.ok) return;
        const doc = new DOMParser().parseFromString(await r.text(), "text/html");
        const fresh = doc.getElementById("main");
        if (fresh) main.innerHTML = fresh.innerHTML;
      } catch (e) { /* the next refresh tries again */ }
    }, Number(main.dataset.refresh) * 1000);
  }

  // The log viewer: the tail first, then whatever is appended, from the offset the server gave.
  const log = document.getElementById("log");
  if (!log) return;
  const follow = document.getElementById("follow");
  const status = document.getElementById("log-status");
  const KEEP = 4 * 1024 * 1024; // characters kept on the page; the download has everything
  let offset = null;
  async function poll() {
    let again = 1000;
    if (follow.checked || offset === null) {
      const sep = log.dataset.src.includes("?") ? "&" : "?";
      const url = log.dataset.src + sep + (offset === null ? "tail=" + log.dataset.tail : "offset=" + offset);
      try {
        const r = await fetch(url, { headers: { "x-requested-by": "aurora-ui" } });
        if (r.ok) {
          const text = await r.text();
          const next = Number(r.headers.get("x-log-offset"));
          const atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 60;
          if (text) {
            log.appendChild(document.createTextNode(text));
            if (log.textContent.length > KEEP) log.textContent = log.textContent.slice(-KEEP / 2);
            if (atEnd && follow.checked) window.scrollTo(0, document.body.scrollHeight);
          }
          if (offset !== null && text.length >= 1024 * 1024) again = 0; // more is waiting
          offset = next;
          log.dataset.offset = String(offset);
          status.textContent = follow.checked ? "following" : "paused";
        } else {
          const body = await r.json().catch(function () { return { error: r.statusText }; });
          status.textContent = body.error;
          again = 3000;
        }
      } catch (e) {
        status.textContent = "the scheduler is unreachable; retrying";
        again = 3000;
      }
    }
    setTimeout(poll, again);
  }
  poll();
})();
