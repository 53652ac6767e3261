// Writes the deployed console's config.json from the stack's description:
//   aws cloudformation describe-stacks --stack-name bulkops-dev --output json \
//     | node scripts/deploy-config.mjs > dist/config.json
// apiBase is the ApiUrl output; the issuer is the ConsoleIssuer or
// JwtIssuerUrl output, else the JwtIssuer parameter; the client ID is the
// ConsoleClientId or UserPoolClientId output, else the first JwtAudience.
// With the stack's own Cognito pool (a UserPoolClientId output) the API gets
// the ID token, which carries the app client as aud and custom:tenant.
// Refuses a description that lacks any of them.
import { readFileSync } from 'node:fs';

/** consoleConfig turns a describe-stacks document into the console's config. */
export function consoleConfig(doc) {
  const stack = (doc.Stacks || [doc])[0] || {};
  const out = Object.fromEntries((stack.Outputs || []).map((o) => [o.OutputKey, o.OutputValue]));
  const par = Object.fromEntries((stack.Parameters || []).map((p) => [p.ParameterKey, p.ResolvedValue ?? p.ParameterValue]));
  const cfg = {
    apiBase: (out.ApiUrl || '').replace(/\/+$/, ''),
    issuer: (out.ConsoleIssuer || out.JwtIssuerUrl || par.JwtIssuer || '').replace(/\/+$/, ''),
    clientId: out.ConsoleClientId || out.UserPoolClientId || (par.JwtAudience || '').split(',')[0].trim(),
    scope: out.ConsoleScope || 'openid email',
    apiToken: out.UserPoolClientId && !out.ConsoleClientId ? 'id' : 'access',
  };
  const missing = Object.entries({ apiBase: 'the ApiUrl output', issuer: 'a ConsoleIssuer or JwtIssuerUrl output or the JwtIssuer parameter', clientId: 'a ConsoleClientId or UserPoolClientId output or the JwtAudience parameter' })
    .filter(([k]) => !cfg[k])
    .map(([, what]) => what);
  if (missing.length) throw new Error(`the stack description lacks ${missing.join(', ')}`);
  for (const k of ['apiBase', 'issuer']) if (!/^https:\/\//.test(cfg[k])) throw new Error(`${k} ${cfg[k]} is not an https URL`);
  return cfg;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const doc = JSON.parse(readFileSync(process.argv[2] || 0, 'utf8'));
    process.stdout.write(JSON.stringify(consoleConfig(doc), null, 2) + '\n');
  } catch (e) {
    process.stderr.write(`deploy-config: ${e.message}\n`);
    process.exit(1);
  }
}
