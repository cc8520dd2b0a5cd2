import assert from "node:assert/strict";
import { uuidV5 } from "./uuid.ts";

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
