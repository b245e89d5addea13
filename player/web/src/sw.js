// The service worker (Workbox, bundled by build.mjs; served at /sw.js by player.webapp, which fills
// in the precache list). What it keeps:
// - precached at install: the player's CSS, script and icon (fingerprinted URLs), the offline page;
// - pages of the player, the front door and "my learning", as the learner opens them (network
//   first, the kept copy when the network fails), and the opened course's pages, fetched ahead
//   when the page asks (`keep-pages`, with the X-Hocvu-Ahead header: the server then writes nothing);
// - static files by fingerprint (cache first: they never change under one URL);
// - a lesson's video only when the learner asks (`keep-media`), served with byte ranges.
// Posts (answers, sync) are never touched here: the page's queue (IndexedDB) holds them.
import { clientsClaim } from "workbox-core";
import { ExpirationPlugin } from "workbox-expiration";
import { matchPrecache, precacheAndRoute } from "workbox-precaching";
import { RangeRequestsPlugin } from "workbox-range-requests";
import { registerRoute, setCatchHandler } from "workbox-routing";
import { CacheFirst, NetworkFirst } from "workbox-strategies";

const PAGES = "hocvu-pages", STATIC = "hocvu-static", MEDIA = "hocvu-media";
const AHEAD = "X-Hocvu-Ahead";

self.skipWaiting();
clientsClaim();
precacheAndRoute(self.__WB_MANIFEST);

// Only whole pages answered 200 (never a redirect: a navigation cannot be answered with one).
const okOnly = { cacheWillUpdate: async ({ response }) => (response.status === 200 && !response.redirected ? response : null) };

function isPage(url) {
  const p = url.pathname;
  return url.origin === self.location.origin &&
    (p === "/" || p === "/learning" || p === "/learning/" || p === "/player/" || p.startsWith("/player/view/"));
}

registerRoute(({ request, url }) => request.mode === "navigate" && isPage(url), new NetworkFirst({
  cacheName: PAGES, networkTimeoutSeconds: 8, plugins: [okOnly, new ExpirationPlugin({ maxEntries: 400 })],
}));
registerRoute(({ url }) => url.origin === self.location.origin && url.searchParams.has("v") &&
  !url.pathname.startsWith("/player/media/"), new CacheFirst({
  cacheName: STATIC, plugins: [okOnly, new ExpirationPlugin({ maxEntries: 200 })],
}));
// Kept videos, with byte ranges (a video element asks for them); never cached by merely watching.
registerRoute(({ url }) => url.pathname.startsWith("/player/media/"), new CacheFirst({
  cacheName: MEDIA, plugins: [new RangeRequestsPlugin(), { cacheWillUpdate: async () => null }],
}));

setCatchHandler(async ({ request }) => {
  if (request.destination === "document") {
    return (await matchPrecache("/offline")) || Response.error();
  }
  return Response.error();
});

async function keepPages(urls) {
  const cache = await caches.open(PAGES);
  let kept = 0;
  for (const raw of urls.slice(0, 200)) {
    const url = new URL(raw, self.location.origin);
    if (!isPage(url) || (await cache.match(url.href))) { continue; }   // the learner's own visit is fresher
    const response = await fetch(url.href, { credentials: "same-origin", headers: { [AHEAD]: "1" } });
    if (response.status === 200 && !response.redirected) { await cache.put(url.href, response); kept += 1; }
  }
  return kept;
}

async function keepMedia(raw) {
  const url = new URL(raw, self.location.origin);
  if (url.origin !== self.location.origin || !url.pathname.startsWith("/player/media/")) { return false; }
  const response = await fetch(url.href, { credentials: "same-origin" });
  if (response.status !== 200) { return false; }
  await (await caches.open(MEDIA)).put(url.href, response);
  return true;
}

self.addEventListener("message", (event) => {
  const data = event.data || {};
  const port = event.ports && event.ports[0];
  const reply = (value) => { if (port) { port.postMessage(value); } };
  let work = null;
  if (data.type === "keep-pages" && Array.isArray(data.urls)) {
    work = keepPages(data.urls).then((n) => reply({ done: n }), () => reply({ failed: true }));
  } else if (data.type === "keep-media" && typeof data.url === "string") {
    work = keepMedia(data.url).then((ok) => reply({ done: ok }), () => reply({ failed: true }));
  } else if (data.type === "forget") {   // sign-out: this learner's pages leave the device
    work = caches.delete(PAGES).then(() => reply({ done: true }));
  }
  if (work) { event.waitUntil(work); }
});
