import { createHash } from "node:crypto";

/** Namespace of every plantgate UUIDv5 (a random UUID fixed forever; changing it changes all ids). */
export const PLANTGATE_NAMESPACE = "3d0c7a4e-6f1b-4c52-9a8e-5b2f1e7d9c10";

function uuidBytes(uuid: string): Uint8Array {
  const hex = uuid.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new TypeError(`Not a UUID: "${uuid}"`);
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function formatUuid(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += HEX[bytes[i]];
  }
  return out;
}

/** Namespace bytes by namespace: every event id hashes one of a handful of namespaces. */
const namespaces = new Map<string, Uint8Array>();
const utf8 = new TextEncoder();

/** RFC 9562 UUID version 5 (SHA-1, name-based): the same name always yields the same id. */
export function uuidV5(name: string, namespace: string = PLANTGATE_NAMESPACE): string {
  let space = namespaces.get(namespace);
  if (!space) {
    space = uuidBytes(namespace);
    if (namespaces.size < 64) namespaces.set(namespace, space);
  }
  const hash = createHash("sha1")
    .update(space)
    .update(utf8.encode(name))
    .digest();
  const bytes = new Uint8Array(hash.subarray(0, 16));
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return formatUuid(bytes);
}
