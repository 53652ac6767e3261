// Unit tests of the console's pure modules (CSV checks, locale choice),
// bundled from the TypeScript sources with esbuild.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { build } from 'esbuild';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

const here = new URL('..', import.meta.url).pathname;
let csv;
let locale;

before(async () => {
  const out = join(tmpdir(), `bulkops-web-units-${process.pid}.mjs`);
  await build({ stdin: { contents: "export * as csv from './src/csv.ts'; export { chooseLocale } from './src/i18n.ts';", resolveDir: here, loader: 'ts' }, bundle: true, format: 'esm', platform: 'neutral', outfile: out, logLevel: 'warning' });
  const m = await import(out);
  rmSync(out);
  csv = m.csv;
  locale = m.chooseLocale;
});

const workType = {
  slug: 'work-type', name: 'Work Type', key: ['Name'],
  columns: [{ header: 'Name', required: true, kind: 'name' }, { header: 'Description', required: false, kind: 'text' }, { header: 'Type', aliases: ['Work Type Code'], required: true, kind: 'one of a list' }],
};

test('encodings are told apart as the service reads them', () => {
  const enc = (bytes, whole = true) => csv.sniffEncoding(Uint8Array.from(bytes), whole);
  assert.equal(enc([0xef, 0xbb, 0xbf, 0x4e]), 'utf-8-bom');
  assert.equal(enc([0xff, 0xfe, 0x4e, 0]), 'utf-16');
  assert.equal(enc([0x4e, 0, 0x61, 0]), 'utf-16');
  assert.equal(enc([...Buffer.from('Name\nCaf'), 0xe9]), 'legacy'); // Windows-1252 é
  assert.equal(enc([...Buffer.from('Name\nCafé')]), 'utf-8');
  assert.equal(enc([...Buffer.from('Name\nCaf'), 0xc3], false), 'utf-8', 'a sample cut inside a character is still UTF-8');
  assert.equal(enc([...Buffer.from('Name\nCaf'), 0xc3]), 'legacy', 'a whole file may not end inside a character');
  assert.equal(csv.decode(Uint8Array.from([0x43, 0x61, 0x66, 0xe9]), 'legacy'), 'Café');
});

test('CSV parsing: quotes, doubled quotes, line breaks in cells, delimiters, a cut-off sample', () => {
  assert.deepEqual(csv.parse('a,b\r\n"x, y","say ""hi"""\n"multi\nline",z\n'), [['a', 'b'], ['x, y', 'say "hi"'], ['multi\nline', 'z']]);
  assert.equal(csv.detectDelimiter('Name;Description;Type\n'), ';');
  assert.equal(csv.detectDelimiter('"a,b"\tc\td\n'), '\t');
  assert.deepEqual(csv.parse('a,b\n1,2\n3,', ',', Infinity, true), [['a', 'b'], ['1', '2']]);
});

test('header checks follow the service: any case and spacing, aliases, report columns ignored', () => {
  const check = (h) => csv.checkHeader(h, workType).map((p) => `${p.kind}:${p.header}`);
  assert.deepEqual(check(['name', 'work_type_code']), []);
  assert.deepEqual(check(['Name', 'Type', 'Row', 'Error Code', 'Error Message']), []);
  assert.deepEqual(check(['Name', 'Colour']), ['unknown:Colour', 'missing:Type']);
  assert.deepEqual(check(['Name', 'NAME', 'Type', '']), ['duplicate:NAME', 'blank:']);
});

test('the first rejected rows of an error CSV, with the column their message names', () => {
  const text = '\uFEFFName,Description,Type,Row,Error Code,Error Message\nCoffee,Short,NAP_TIME,7,NOT_ALLOWED,"Type: ""NAP_TIME"" is not one of IDLE_CODE, WRAP_UP_CODE"\nlunch,x,IDLE_CODE,9,DUPLICATE_KEY,"""lunch"" already appears in row 2"\n';
  assert.deepEqual(csv.rejectedRows(text, 10), [
    { row: '7', column: 'Type', code: 'NOT_ALLOWED', message: '"NAP_TIME" is not one of IDLE_CODE, WRAP_UP_CODE' },
    { row: '9', column: '', code: 'DUPLICATE_KEY', message: '"lunch" already appears in row 2' },
  ]);
  assert.equal(csv.rejectedRows(text, 1).length, 1);
});

test('the locale comes from the browser: Norwegian (nb, no, nn) or English', () => {
  assert.equal(locale(['nb-NO', 'en']), 'nb');
  assert.equal(locale(['nn']), 'nb');
  assert.equal(locale(['de-DE', 'en-US']), 'en');
  assert.equal(locale(['fr']), 'en');
});
