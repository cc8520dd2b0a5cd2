/** Namespace of every plantgate UUIDv5 (a random UUID fixed forever; changing it changes all ids). */
/** A UUID in its text form (any version), as a pattern for PostgreSQL's `~*` and for RegExp. */
export const UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

const UUID = new RegExp(UUID_PATTERN, "i");

/** Whether `text` is a UUID (case-insensitive). */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

export const PLANTGATE_NAMESPACE = "3d0c7a4e-6f1b-4c52-9a8e-5b2f1e7d9c10";

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`Not a UUID: "${uuid}"`);
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

/** Namespace bytes by namespace: every event id hashes one of a handful of namespaces. */
const namespaces = new Map<string, Uint8Array>();
const utf8 = new TextEncoder();

// SHA-1 state reused by every call: an event id is hashed per event, on the ingest hot path,
// where node:crypto's Hash objects and digest buffers were a tenth of the decode allocations.
const words = new Uint32Array(80);
let message = new Uint8Array(256);

/** SHA-1 (FIPS 180-4) of `length` bytes of `message`; the result as five 32-bit words. */
function sha1(length: number): [number, number, number, number, number] {
  const padded = Math.ceil((length + 9) / 64) * 64;
  if (message.length < padded) {
    const grown = new Uint8Array(padded * 2);
    grown.set(message.subarray(0, length));
    message = grown;
  }
  message.fill(0, length, padded);
  message[length] = 0x80;
  const view = new DataView(message.buffer, 0, padded);
  view.setUint32(padded - 8, Math.floor(length / 0x20000000));
  view.setUint32(padded - 4, (length * 8) >>> 0);
  let h0 = 0x67452301, h1 = 0xefcdab89, h2 = 0x98badcfe, h3 = 0x10325476, h4 = 0xc3d2e1f0;
  for (let block = 0; block < padded; block += 64) {
    for (let t = 0; t < 16; t++) words[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) {
      const w = words[t - 3] ^ words[t - 8] ^ words[t - 14] ^ words[t - 16];
      words[t] = (w << 1) | (w >>> 31);
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4;
    for (let t = 0; t < 80; t++) {
      const f = t < 20
        ? ((b & c) | (~b & d)) + 0x5a827999
        : t < 40
        ? (b ^ c ^ d) + 0x6ed9eba1
        : t < 60
        ? ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc
        : (b ^ c ^ d) + 0xca62c1d6;
      const next = (((a << 5) | (a >>> 27)) + f + e + words[t]) >>> 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = next;
    }
    h0 = (h0 + a) >>> 0;
    h1 = (h1 + b) >>> 0;
    h2 = (h2 + c) >>> 0;
    h3 = (h3 + d) >>> 0;
    h4 = (h4 + e) >>> 0;
  }
  return [h0, h1, h2, h3, h4];
}

const hexWord = (w: number) =>
  HEX[w >>> 24] + HEX[(w >>> 16) & 0xff] + HEX[(w >>> 8) & 0xff] + HEX[w & 0xff];

/** RFC 9562 UUID version 5 (SHA-1, name-based): the same name always yields the same id. */
export function uuidV5(name: string, namespace: string = PLANTGATE_NAMESPACE): string {
  let space = namespaces.get(namespace);
  if (!space) {
    space = uuidBytes(namespace);
    if (namespaces.size < 64) namespaces.set(namespace, space);
  }
  // A UTF-8 name takes at most 3 bytes per UTF-16 unit.
  const room = 16 + name.length * 3 + 72;
  if (message.length < room) message = new Uint8Array(room * 2);
  message.set(space);
  const { written } = utf8.encodeInto(name, message.subarray(16));
  const [h0, h1, h2, h3] = sha1(16 + written);
  // Version 5 in the high nibble of byte 6, variant 10 in the high bits of byte 8.
  const w1 = ((h1 & 0xffff0fff) | 0x00005000) >>> 0;
  const w2 = ((h2 & 0x3fffffff) | 0x80000000) >>> 0;
  const a = hexWord(h0), b = hexWord(w1), c = hexWord(w2), d = hexWord(h3);
  return `${a}-${b.slice(0, 4)}-${b.slice(4)}-${c.slice(0, 4)}-${c.slice(4)}${d}`;
}
