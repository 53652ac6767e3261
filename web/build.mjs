// Builds the console into dist/: one ES module bundle (app.js, minified,
// with a source map), the stylesheet, index.html and the icon. Then checks
// the message catalogs (every Norwegian key exists in English with the same
// placeholders; Norwegian covers the shell, dashboard and job page) and the
// first-load budget (at most 150 KB of JavaScript gzipped).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = new URL('.', import.meta.url).pathname;
const dist = join(here, 'dist');
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [join(here, 'src/main.ts')],
  bundle: true,
  format: 'esm',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  outfile: join(dist, 'app.js'),
  legalComments: 'none',
  logLevel: 'warning',
});
for (const f of ['index.html', 'favicon.svg']) copyFileSync(join(here, f), join(dist, f));
copyFileSync(join(here, 'src/styles.css'), join(dist, 'app.css'));
writeFileSync(join(dist, 'config.example.json'), JSON.stringify({ apiBase: 'https://API_ID.execute-api.REGION.amazonaws.com/dev', issuer: 'https://cognito-idp.REGION.amazonaws.com/POOL_ID', clientId: 'CLIENT_ID', scope: 'openid email' }, null, 2) + '\n');

// Message catalogs.
const tmp = join(tmpdir(), `bulkops-messages-${process.pid}.mjs`);
await build({ stdin: { contents: "export { en } from './src/messages/en.ts'; export { nb } from './src/messages/nb.ts';", resolveDir: here, loader: 'ts' }, bundle: true, format: 'esm', outfile: tmp, logLevel: 'warning' });
const { en, nb } = await import(tmp);
rmSync(tmp);
const problems = [];
const vars = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
for (const [k, v] of Object.entries(nb)) {
  if (!(k in en)) problems.push(`nb has ${k}, which English does not`);
  else if (vars(v) !== vars(en[k])) problems.push(`nb ${k} has placeholders {${vars(v)}}, English {${vars(en[k])}}`);
}
const mustCover = /^(app|nav|auth|common|error|notFound|status|jobType|eta|dash|job)\./;
for (const k of Object.keys(en)) if (mustCover.test(k) && !(k in nb)) problems.push(`nb lacks ${k} (the dashboard and job page must be complete)`);
if (problems.length) {
  console.error(`message catalogs:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}

const js = readFileSync(join(dist, 'app.js'));
const gz = gzipSync(js, { level: 9 }).length;
const budget = 150 * 1024;
console.log(`web/dist/app.js: ${(js.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped (budget ${budget / 1024} KB); catalogs: en ${Object.keys(en).length} messages, nb ${Object.keys(nb).length}`);
if (gz > budget) {
  console.error('the first load is over its JavaScript budget');
  process.exit(1);
}
