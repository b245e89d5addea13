// The device's queue of ops (player.offline.ops), in IndexedDB through `idb`: it survives a reload,
// a closed tab and a restarted phone. The store's auto-increment key is the op's `seq`: IndexedDB
// never reuses one, so the queue's order is the order the learner acted in.
import { openDB } from "idb";

const NAME = "hocvu-player";
let opened = null;
// Where IndexedDB cannot be opened (an LMS's frame whose storage the browser blocks, a private
// window), the queue lives in the page: it still syncs in order, it only does not outlive the page.
const memory = { ops: [], meta: {}, next: 1 };

function db() {
  if (!opened) {
    try {
      opened = openDB(NAME, 1, {
        upgrade(d) {
          d.createObjectStore("ops", { keyPath: "seq", autoIncrement: true });
          d.createObjectStore("meta");
        },
      }).catch(() => null);
    } catch (e) {
      opened = Promise.resolve(null);
    }
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
  if (value === undefined) { return d ? d.get("meta", key) : memory.meta[key]; }
  if (d) { await d.put("meta", value, key); } else { memory.meta[key] = value; }
  return value;
}

export async function deviceId() {
  return (await meta("device")) || meta("device", uuid());
}

// Queue one op: its id is made here, on the device, and becomes its statement's id on the server.
export async function enqueue(op) {
  const d = await db();
  const full = Object.assign({ id: uuid(), at: new Date().toISOString() }, op);
  if (d) { full.seq = await d.add("ops", full); } else { full.seq = memory.next++; memory.ops.push(full); }
  return full;
}

export async function pending() {
  const d = await db();
  return d ? d.getAll("ops") : memory.ops.slice();   // key order: the order they were queued in
}

export async function count() {
  const d = await db();
  return d ? d.count("ops") : memory.ops.length;
}

export async function remove(seqs) {
  const d = await db();
  if (!d) { memory.ops = memory.ops.filter((op) => seqs.indexOf(op.seq) < 0); return; }
  const tx = d.transaction("ops", "readwrite");
  await Promise.all(seqs.map((s) => tx.store.delete(s)).concat([tx.done]));
}

export async function clear() {
  const d = await db();
  if (d) { await d.clear("ops"); } else { memory.ops = []; }
}
