import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { PLANTGATE_NAMESPACE, uuidV5 } from "./uuid.ts";

Deno.test("uuidV5 matches the RFC 9562 example for the DNS namespace", () => {
  // RFC 9562 appendix A.4: name "www.example.com" in the DNS namespace.
  assert.equal(
    uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
    "2ed6657d-e927-568b-95e1-2665a8aea6a2",
  );
});

Deno.test("uuidV5 is deterministic and sensitive to every character", () => {
  assert.equal(uuidV5("sap:A:4900001234:2026:0001"), uuidV5("sap:A:4900001234:2026:0001"));
  assert.notEqual(uuidV5("sap:A:4900001234:2026:0001"), uuidV5("sap:A:4900001234:2026:0002"));
});

Deno.test("uuidV5 equals the node:crypto SHA-1 construction for names of every length", () => {
  const reference = (name: string) => {
    const space = Uint8Array.from(
      PLANTGATE_NAMESPACE.replaceAll("-", "").match(/../g)!,
      (h) => parseInt(h, 16),
    );
    const hash = createHash("sha1").update(space).update(new TextEncoder().encode(name)).digest();
    const b = new Uint8Array(hash.subarray(0, 16));
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
      hex.slice(20)
    }`;
  };
  // Lengths around the 55/56/64-byte block edges, multi-byte UTF-8, and a long name.
  const names = Array.from({ length: 140 }, (_, n) => "x".repeat(n));
  names.push("Überstand-Charge-µ-42", "批次-0001", "🙂".repeat(30), "k:".repeat(2000));
  for (const name of names) assert.equal(uuidV5(name), reference(name), `name of ${name.length}`);
});
