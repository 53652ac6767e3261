// Client-side reading of CSV files: the checks before an upload (encoding,
// header against the type's columns) and the first rows of an error CSV.
// The service checks everything again; these checks only save a round trip.

import type { ObjectType } from './api';

export type Encoding = 'utf-8' | 'utf-8-bom' | 'utf-16' | 'legacy' | 'binary';

/**
 * sniffEncoding tells how a file is encoded from its first bytes; whole
 * says they are the whole file (else a character cut off at the end of the
 * sample is not held against UTF-8).
 */
export function sniffEncoding(b: Uint8Array, whole = true): Encoding {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return 'utf-8-bom';
  if ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)) return 'utf-16';
  const n = Math.min(b.length, 4096);
  for (let i = 0; i < n; i++) if (b[i] === 0) return i % 2 === 1 || b[i + 1] !== 0 ? 'utf-16' : 'binary';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b, { stream: !whole });
    return 'utf-8';
  } catch {
    return 'legacy';
  }
}

/** decode turns bytes into text the way the service reads them (legacy: Windows-1252). */
export function decode(b: Uint8Array, enc: Encoding): string {
  if (enc === 'legacy') return new TextDecoder('windows-1252').decode(b);
  return new TextDecoder('utf-8').decode(b).replace(/^\uFEFF/, '');
}

const DELIMS = [',', ';', '\t', '|'];

/** detectDelimiter picks the separator used most in the header line (outside quotes). */
export function detectDelimiter(text: string): string {
  const line = firstLine(text);
  let best = ',';
  let bestN = 0;
  for (const d of DELIMS) {
    let n = 0;
    let quoted = false;
    for (const c of line) {
      if (c === '"') quoted = !quoted;
      else if (c === d && !quoted) n++;
    }
    if (n > bestN) {
      best = d;
      bestN = n;
    }
  }
  return best;
}

function firstLine(text: string): string {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if ((c === '\n' || c === '\r') && !quoted) return text.slice(0, i);
  }
  return text;
}

/**
 * parse reads up to maxRows records of CSV text (RFC 4180: quotes, doubled
 * quotes, line breaks in quoted cells). A record cut off at the end of the
 * text (a sample of a larger file) is dropped when partial is set.
 */
export function parse(text: string, delim = ',', maxRows = Infinity, partial = false): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  while (i < text.length && rows.length < maxRows) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else cell += c;
      i++;
      continue;
    }
    if (c === '"' && cell === '') quoted = true;
    else if (c === delim) {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      if (c === '\r' && text[i + 1] === '\n') i++;
    } else cell += c;
    i++;
  }
  if (rows.length < maxRows && !partial && (cell !== '' || row.length > 0)) {
    row.push(cell);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** normHeader is the service's comparison form of a header (objecttype.normHeader). */
export function normHeader(s: string): string {
  return s.replace(/^\uFEFF/, '').normalize('NFC').toLowerCase().replace(/[\s_-]/g, '');
}

/** The columns an error CSV adds; import ignores them, so a fixed error CSV imports as it is. */
export const REPORT_HEADERS = ['Row', 'Error Code', 'Error Message', 'File'];

export interface HeaderProblem {
  kind: 'blank' | 'duplicate' | 'unknown' | 'missing' | 'action';
  column?: number;
  header: string;
}

/** checkHeader compares a file's header with the type's columns, as the service's Bind does. */
export function checkHeader(header: string[], type: ObjectType): HeaderProblem[] {
  const index = new Map<string, string>();
  for (const c of type.columns) for (const name of [c.header, ...(c.aliases ?? [])]) index.set(normHeader(name), c.header);
  const ignored = new Set(REPORT_HEADERS.map(normHeader));
  const families = (type.columnFamilies ?? []).map((f) => normHeader(f.split(':')[0]));
  const seen = new Map<string, number>();
  const found = new Set<string>();
  const problems: HeaderProblem[] = [];
  let action = false;
  header.forEach((raw, i) => {
    const hdr = raw.trim();
    const n = normHeader(hdr);
    if (!n) {
      problems.push({ kind: 'blank', column: i + 1, header: '' });
      return;
    }
    if (seen.has(n)) {
      problems.push({ kind: 'duplicate', column: i + 1, header: hdr });
      return;
    }
    seen.set(n, i + 1);
    if (hdr.includes(':') && families.includes(normHeader(hdr.split(':')[0]))) return;
    if (type.actionColumn && n === 'action') {
      action = true;
      return;
    }
    const col = index.get(n);
    if (col) found.add(col);
    else if (!ignored.has(n)) problems.push({ kind: 'unknown', column: i + 1, header: hdr });
  });
  for (const c of type.columns) if (c.required && !found.has(c.header)) problems.push({ kind: 'missing', header: c.header });
  if (type.actionColumn && !action) problems.push({ kind: 'action', header: 'Action' });
  return problems;
}

export interface Rejected {
  row: string;
  column: string;
  code: string;
  message: string;
}

/**
 * rejectedRows reads the first rows of an error CSV: the report columns Row,
 * Error Code and Error Message, and the column a message starts with
 * ("Type: …"), when it names one of the file's columns.
 */
export function rejectedRows(text: string, max: number): Rejected[] {
  const clean = text.replace(/^\uFEFF/, '');
  const rows = parse(clean, detectDelimiter(clean), max + 1);
  if (rows.length < 2) return [];
  const header = rows[0].map(normHeader);
  const at = (n: string) => header.indexOf(normHeader(n));
  const iRow = at('Row');
  const iCode = at('Error Code');
  const iMsg = at('Error Message');
  const dataHeaders = rows[0].filter((_, i) => i !== iRow && i !== iCode && i !== iMsg);
  return rows.slice(1).map((r) => {
    const message = r[iMsg] ?? '';
    const m = /^([^:]{1,60}):\s/.exec(message);
    const column = m && dataHeaders.some((d) => normHeader(d) === normHeader(m[1])) ? m[1] : '';
    return { row: r[iRow] ?? '', column, code: r[iCode] ?? '', message: column ? message.slice(m![0].length) : message };
  });
}
