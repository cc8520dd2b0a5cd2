/**
 * How SAP spells units and local times, for writing SAP documents (simulator, encode).
 *
 * @module
 */
import { zonedParts } from "../../gateway/mod.ts";

/**
 * SAP internal unit spellings (T006-MSEHI, German origin) for the Rec 20 codes plantgate uses
 * most. Only for writing SAP documents (simulator, encode); reading goes through `toRec20`,
 * which knows these spellings and more.
 */
const SAP_INTERNAL: Readonly<Record<string, string>> = {
  KGM: "KG",
  GRM: "G",
  MGM: "MG",
  TNE: "TO",
  LBR: "LB",
  LTR: "L",
  MLT: "ML",
  HLT: "HL",
  MTQ: "M3",
  MTR: "M",
  CMT: "CM",
  MMT: "MM",
  MTK: "M2",
  H87: "ST",
  PR: "PAA",
  XCT: "CAR",
  XPX: "PAL",
};

/**
 * The SAP internal unit for a Rec 20 code: a site alias (`unitAliases`) that maps to it first,
 * then the usual T006 spelling, else the code itself (SAP's ISO column is Rec 20).
 */
export function sapUnit(rec20: string, aliases: Readonly<Record<string, string>> = {}): string {
  const site = Object.entries(aliases).find(([, code]) => code === rec20);
  return site?.[0] ?? SAP_INTERNAL[rec20] ?? rec20;
}

/** Wall-clock date and time of `at` in `timeZone`, as SAP writes them (`YYYYMMDD`, `HHMMSS`). */
export function sapLocal(at: Date, timeZone: string): { date: string; time: string; year: string } {
  const p = zonedParts(at, timeZone);
  return {
    date: `${p.year}${p.month}${p.day}`,
    time: `${p.hour}${p.minute}${p.second}`,
    year: p.year,
  };
}
