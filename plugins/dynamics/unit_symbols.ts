/**
 * UN/ECE Rec 20 code -> the D365 unit symbol the simulator and the downlink write. Unit symbols
 * are tenant data; these are the demo-data spellings, and each maps back to its code through
 * `toRec20` (site spellings go in the `unitAliases` option).
 */
const SYMBOLS: Readonly<Record<string, string>> = {
  KGM: "kg",
  GRM: "g",
  TNE: "t",
  LBR: "lb",
  LTR: "L",
  MLT: "ml",
  MTQ: "m3",
  MTR: "m",
  H87: "pcs",
  EA: "ea",
  XBX: "box",
  XPX: "pallet",
};

/** The D365 unit symbol for a Rec 20 code (the code in lower case when there is no symbol). */
export function d365UnitSymbol(rec20: string): string {
  return SYMBOLS[rec20] ?? rec20.toLowerCase();
}
