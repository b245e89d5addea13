// The device's queue of ops (player.offline.ops), in IndexedDB through `idb`: it survives a reload,
// a closed tab and a restarted phone. The store's auto-increment key is the op's `seq`: IndexedDB
// never reuses one, so the queue's order is the order the learner acted in.
import { openDB } from "idb";

const NAME = "hocvu-player";
let opened = null;

function db() {
  if (!opened) {
    opened = openDB(NAME, 1, {
      upgrade(d) {
        d.createObjectStore("ops", { keyPath: "seq", autoIncrement: true });
        d.createObjectStore("meta");
      },
    });
  }
  return opened;
}

export function uuid() {
  if (self.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
  const b = crypto.getRandomValues(new Uint8Array(16));  // RFC 9562 §5.4, version 4
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

export async function meta(key, value) {
  const d = await db();
  if (value === undefined) { return d.get("meta", key); }
  await d.put("meta", value, key);
  return value;
}

export async function deviceId() {
  return (await meta("device")) || meta("device", uuid());
}

// Queue one op: its id is made here, on the device, and becomes its statement's id on the server.
export async function enqueue(op) {
  const d = await db();
  const full = Object.assign({ id: uuid(), at: new Date().toISOString() }, op);
  full.seq = await d.add("ops", full);
  return full;
}

export async function pending() {
  return (await db()).getAll("ops");   // key order: the order they were queued in
}

export async function count() {
  return (await db()).count("ops");
}

export async function remove(seqs) {
  const tx = (await db()).transaction("ops", "readwrite");
  await Promise.all(seqs.map((s) => tx.store.delete(s)).concat([tx.done]));
}

export async function clear() {
  const d = await db();
  await d.clear("ops");
}
