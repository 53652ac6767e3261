// Sign-in: OpenID Connect authorization code flow with PKCE (S256) against
// the configured issuer. The console is a public client: no secret, the
// code verifier proves the exchange. Tokens live in sessionStorage (gone
// when the tab closes) and are sent to the API as a bearer token.

import { config } from './config';

const TOKEN = 'bulkops.token';
const PENDING = 'bulkops.pending';

export interface Session {
  accessToken: string;
  idToken?: string;
  expiresAt: number; // ms since epoch
  tenant: string;
  email: string;
  /** The token carries the operator scope (config.operatorScope, default bulkops/operator). */
  operator?: boolean;
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  end_session_endpoint?: string;
}

let discovery: Discovery | undefined;

async function discover(): Promise<Discovery> {
  if (discovery) return discovery;
  const res = await fetch(`${config.issuer}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`the identity provider's discovery document answered HTTP ${res.status}`);
  discovery = (await res.json()) as Discovery;
  return discovery;
}

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n = 32): string {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** claims decodes a JWT's payload (no verification: the API verifies). */
export function claims(jwt: string): Record<string, unknown> {
  const part = jwt.split('.')[1] ?? '';
  const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (c) => c.charCodeAt(0)))) as Record<string, unknown>;
}

/** scopes are a token's scopes (scope: a space-separated string; scp: a list). */
function scopes(c: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const v of [c.scope, c.scp]) {
    if (typeof v === 'string') out.push(...v.split(/\s+/));
    else if (Array.isArray(v)) out.push(...v.map(String));
  }
  return out.filter(Boolean);
}

function redirectUri(): string {
  return config.redirectUri || `${location.origin}${location.pathname}`;
}

/** session is the signed-in user, or null when signed out or expired. */
export function session(): Session | null {
  const raw = sessionStorage.getItem(TOKEN);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (s.expiresAt - 30_000 < Date.now()) {
      sessionStorage.removeItem(TOKEN);
      return null;
    }
    return s;
  } catch {
    sessionStorage.removeItem(TOKEN);
    return null;
  }
}

/** signIn sends the browser to the identity provider's sign-in page. */
export async function signIn(returnTo: string): Promise<void> {
  const d = await discover();
  const verifier = randomString(48);
  const state = randomString(16);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: config.clientId,
    redirect_uri: redirectUri(),
    scope: config.scope || 'openid email',
    state,
    code_challenge: b64url(digest),
    code_challenge_method: 'S256',
  });
  location.assign(`${d.authorization_endpoint}?${q}`);
}

/**
 * completeSignIn finishes a sign-in when the page was opened by the
 * identity provider's redirect (?code=…&state=…): it exchanges the code and
 * returns the hash to go back to. Without a code it returns null.
 */
export async function completeSignIn(): Promise<string | null> {
  const q = new URLSearchParams(location.search);
  const code = q.get('code');
  const err = q.get('error');
  if (!code && !err) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || 'null') as { verifier: string; state: string; returnTo: string } | null;
  sessionStorage.removeItem(PENDING);
  history.replaceState(null, '', location.pathname + location.hash);
  if (err) throw new Error(q.get('error_description') || err);
  if (!pending || pending.state !== q.get('state')) throw new Error('sign-in state mismatch');
  const d = await discover();
  const res = await fetch(d.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: redirectUri(),
      client_id: config.clientId,
      code_verifier: pending.verifier,
    }),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; id_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!res.ok || !body.access_token) throw new Error(body.error_description || body.error || `token endpoint answered HTTP ${res.status}`);
  setSession(body.access_token, body.id_token, body.expires_in);
  return pending.returnTo || '#/';
}

/** setSession keeps tokens (from the token endpoint). */
export function setSession(accessToken: string, idToken?: string, expiresIn?: number): Session {
  const c = claims(idToken || accessToken);
  const a = claims(accessToken);
  const exp = typeof a.exp === 'number' ? a.exp * 1000 : Date.now() + (expiresIn ?? 3600) * 1000;
  const s: Session = {
    accessToken,
    idToken,
    expiresAt: exp,
    tenant: String(a.tenant ?? c.tenant ?? a['custom:tenant'] ?? c['custom:tenant'] ?? ''),
    email: String(c.email ?? a.email ?? c.sub ?? a.sub ?? ''),
    operator: scopes(a).includes(config.operatorScope || 'bulkops/operator'),
  };
  sessionStorage.setItem(TOKEN, JSON.stringify(s));
  return s;
}

/** clearSession forgets the tokens (the API refused them). */
export function clearSession(): void {
  sessionStorage.removeItem(TOKEN);
}

/** signOut forgets the tokens and ends the identity provider's session where it has an end-session endpoint. */
export async function signOut(): Promise<void> {
  const s = session();
  sessionStorage.removeItem(TOKEN);
  let d: Discovery | undefined;
  try {
    d = await discover();
  } catch {
    d = undefined;
  }
  const back = `${location.origin}${location.pathname}#/signed-out`;
  if (d?.end_session_endpoint) {
    const q = new URLSearchParams({ client_id: config.clientId, post_logout_redirect_uri: back });
    if (s?.idToken) q.set('id_token_hint', s.idToken);
    location.assign(`${d.end_session_endpoint}?${q}`);
    return;
  }
  location.assign(back);
}
