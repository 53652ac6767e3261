// The console's settings come from config.json served beside index.html:
// locally the dev server writes it from its ports, deployed it is made from
// the stack's outputs (docs/console.md).

export interface Config {
  /** Base URL of the HTTP API including the stage, e.g. http://127.0.0.1:3000/dev. */
  apiBase: string;
  /** OIDC issuer; its /.well-known/openid-configuration is read at sign-in. */
  issuer: string;
  /** OIDC client ID of the console (a public client: PKCE, no secret). */
  clientId: string;
  /** Scopes asked for at sign-in. */
  scope?: string;
  /** Where the identity provider sends the browser back (default: this page). */
  redirectUri?: string;
  /**
   * Which token the API gets: "access" (default; it carries the tenant and
   * audience, as the local issuer's does) or "id" (Cognito's ID token, which
   * carries aud = the app client and custom:tenant).
   */
  apiToken?: 'access' | 'id';
  /** The scope that makes a token an operator's (the template's OperatorScope; default bulkops/operator). */
  operatorScope?: string;
}

export let config: Config = { apiBase: '', issuer: '', clientId: '' };

/** loadConfig reads config.json; the console cannot run without it. */
export async function loadConfig(): Promise<Config> {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const c = (await res.json()) as Partial<Config>;
  if (!c.apiBase || !c.issuer || !c.clientId) throw new Error('config.json needs apiBase, issuer and clientId');
  config = { scope: 'openid email', ...c, apiBase: c.apiBase.replace(/\/+$/, ''), issuer: c.issuer.replace(/\/+$/, '') } as Config;
  return config;
}
