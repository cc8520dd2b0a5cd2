import assert from "node:assert/strict";
import edge from "../../config/edge.schema.json" with { type: "json" };
import central from "../../config/central.schema.json" with { type: "json" };

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

/** Every option's dotted key (array items as `key[].sub`), depth first. */
function keys(node: SchemaNode, prefix = ""): string[] {
  return Object.entries(node.properties ?? {}).flatMap(([name, child]) => {
    const key = prefix + name;
    const nested = child.items ? keys(child.items, `${key}[].`) : keys(child, `${key}.`);
    return [key, ...nested];
  });
}

Deno.test("every option of both config schemas is documented in config/README.md", async () => {
  const readme = await Deno.readTextFile(new URL("../../config/README.md", import.meta.url));
  for (const [role, schema] of [["edge", edge], ["central", central]] as const) {
    const missing = keys(schema as SchemaNode).filter((k) => !readme.includes(`\`${k}\``));
    assert.deepEqual(missing, [], `${role} options missing from config/README.md`);
  }
});
