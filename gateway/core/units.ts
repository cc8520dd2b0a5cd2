import { PluginError } from "./errors.ts";

/**
 * The UN/ECE Recommendation 20 codes plantgate accepts as canonical `uom`, with their names.
 * Count units are kept distinct (H87 piece, EA each, C62 one) because ERPs use them distinctly;
 * the gateway never converts between units (count<->mass needs item master data).
 */
export const REC20_UNITS: Readonly<Record<string, string>> = {
  KGM: "kilogram",
  GRM: "gram",
  MGM: "milligram",
  TNE: "tonne",
  LBR: "pound",
  ONZ: "ounce",
  LTR: "litre",
  MLT: "millilitre",
  HLT: "hectolitre",
  MTQ: "cubic metre",
  GLL: "US gallon",
  MTR: "metre",
  CMT: "centimetre",
  MMT: "millimetre",
  MTK: "square metre",
  H87: "piece",
  EA: "each",
  C62: "one",
  SET: "set",
  PR: "pair",
  DZN: "dozen",
  XBX: "box",
  XCT: "carton",
  XPK: "package",
  XPX: "pallet",
  XBG: "bag",
  XDR: "drum",
  XRO: "roll",
};

/** Unit spellings seen in ERP messages, mapped to Rec 20 (keys are upper-cased before lookup). */
const ALIASES: Readonly<Record<string, string>> = {
  KG: "KGM",
  KGS: "KGM",
  G: "GRM",
  GR: "GRM",
  MG: "MGM",
  T: "TNE",
  TO: "TNE",
  TON: "TNE",
  LB: "LBR",
  LBS: "LBR",
  OZ: "ONZ",
  L: "LTR",
  LT: "LTR",
  LITER: "LTR",
  LITRE: "LTR",
  ML: "MLT",
  HL: "HLT",
  M3: "MTQ",
  GAL: "GLL",
  M: "MTR",
  CM: "CMT",
  MM: "MMT",
  M2: "MTK",
  ST: "H87",
  PC: "H87",
  PCS: "H87",
  PCE: "H87",
  PIECE: "H87",
  STK: "H87",
  EACH: "EA",
  BOX: "XBX",
  CAR: "XCT",
  CARTON: "XCT",
  PAL: "XPX",
  PALLET: "XPX",
  BAG: "XBG",
  DRUM: "XDR",
  ROLL: "XRO",
  PAA: "PR",
  PAIR: "PR",
};

/**
 * Normalizes an ERP unit (SAP internal or ISO code, D365 unit symbol, Infor unitCode) to its
 * Rec 20 code. `extra` lets a plugin's options add site-specific aliases (they win).
 * Throws a {@linkcode PluginError} naming `field` for a unit it does not know.
 */
export function toRec20(
  unit: unknown,
  field: string,
  extra: Readonly<Record<string, string>> = {},
): string {
  if (typeof unit !== "string" || unit.trim() === "") {
    throw new PluginError(
      `field "${field}" must be a unit of measure, got ${JSON.stringify(unit)}`,
      {
        field,
      },
    );
  }
  const key = unit.trim().toUpperCase();
  const code = extra[unit.trim()] ?? extra[key] ?? (key in REC20_UNITS ? key : ALIASES[key]);
  if (code === undefined || !(code in REC20_UNITS)) {
    throw new PluginError(
      `field "${field}" has unit "${unit}", which has no UN/ECE Rec 20 mapping (add it to the plugin's unitAliases option)`,
      { field, code: "plugin_unsupported" },
    );
  }
  return code;
}

/**
 * JSON Schema of a plugin's `unitAliases` option (site unit spellings -> Rec 20 codes), for
 * plugins to put in their optionsSchema.
 */
export const UNIT_ALIASES_OPTION: Readonly<Record<string, unknown>> = {
  type: "object",
  additionalProperties: { type: "string", pattern: "^[A-Z0-9]{2,3}$" },
  default: {},
  description: 'Site unit spellings to UN/ECE Rec 20 codes, e.g. { "FAS": "XDR" }.',
};
