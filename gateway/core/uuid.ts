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

function formatUuid(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** RFC 9562 UUID version 5 (SHA-1, name-based): the same name always yields the same id. */
export function uuidV5(name: string, namespace: string = PLANTGATE_NAMESPACE): string {
  const hash = createHash("sha1")
    .update(uuidBytes(namespace))
    .update(new TextEncoder().encode(name))
    .digest();
  const bytes = new Uint8Array(hash.subarray(0, 16));
  bytes[6] = (bytes[6] & 0x0f) | 0x50;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  return formatUuid(bytes);
}
