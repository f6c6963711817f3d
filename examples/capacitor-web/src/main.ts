// The page: buttons for each step of docs/capacitor.md, and a list of what
// the API and Keycloak answered. Every answer is also in the DOM as data
// attributes, which the browser tests read.

import { LoginRequired, claims, type Auth } from './auth';
import { chooseVariant, loadConfig, variants, type Config, type Variant } from './config';
import { Session, type Exchange } from './session';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

function report(e: Exchange): void {
  const li = document.createElement('li');
  li.dataset['what'] = e.what;
  li.dataset['status'] = String(e.status);
  li.textContent = `${e.what} → ${e.status === 0 ? 'no answer' : e.status}${e.detail ? `  ${e.detail}` : ''}`;
  li.className = e.status >= 200 && e.status < 300 ? 'ok' : 'refused';
  $('log').append(li);
}

function note(text: string): void {
  report({ what: 'note', status: 0, detail: text });
}

async function load(c: Config, v: Variant): Promise<Auth> {
  // One chunk per library: the page loads only the one it uses.
  if (v === 'keycloak-js') return (await import('./keycloak-js')).create(c);
  return (await import('./oidc-client-ts')).create(c, v === 'oidc-client-ts-dpop');
}

function render(auth: Auth | undefined, state: 'signed-in' | 'signed-out' | 'error', text?: string): void {
  const status = $('status');
  const t = auth?.tokens();
  const user = String(claims(t?.accessToken)['preferred_username'] ?? '');
  status.dataset['state'] = state;
  status.dataset['user'] = state === 'signed-in' ? user : '';
  status.textContent = text ?? (state === 'signed-in' ? `Signed in as ${user}` : 'Signed out');
  for (const id of ['profile', 'admin', 'refresh', 'logout']) $<HTMLButtonElement>(id).disabled = state !== 'signed-in';
  $<HTMLButtonElement>('login').disabled = state === 'signed-in';
  void showBinding(auth, state === 'signed-in' ? t?.accessToken : undefined);
}

let shown = 0; // the latest call of showBinding, the one whose answer counts

/**
 * Shows what the access token is bound to: the thumbprint in its cnf.jkt
 * (RFC 9449), and whether that is the key this browser holds; or that it is
 * a bearer token, which works for whoever copies it.
 */
async function showBinding(auth: Auth | undefined, accessToken: string | undefined): Promise<void> {
  const call = ++shown;
  const el = $('binding');
  const cnf = claims(accessToken)['cnf'];
  const jkt = typeof cnf === 'object' && cnf !== null ? (cnf as Record<string, unknown>)['jkt'] : undefined;
  const key = await auth?.key().catch(() => undefined);
  if (call !== shown) return;
  el.dataset['binding'] = accessToken === undefined ? '' : typeof jkt === 'string' ? 'dpop' : 'bearer';
  el.dataset['jkt'] = typeof jkt === 'string' ? jkt : '';
  el.dataset['key'] = key?.thumbprint ?? '';
  if (accessToken === undefined) {
    el.textContent = key ? `DPoP key of this browser: ${key.thumbprint} (${key.extractable ? 'extractable' : 'non-extractable'})` : '';
  } else if (typeof jkt !== 'string') {
    el.textContent = 'Bearer token: not bound, it works for whoever copies it';
  } else if (jkt === key?.thumbprint) {
    el.textContent = `DPoP-bound to this browser's ${key.extractable ? 'extractable' : 'non-extractable'} key: cnf.jkt ${jkt}`;
  } else {
    el.textContent = `DPoP-bound to a key this browser does not hold: cnf.jkt ${jkt}`;
  }
}

async function main(): Promise<void> {
  const c = await loadConfig();
  const variant = chooseVariant(c);
  $('variant').textContent = variant;
  const sw = $('switch');
  for (const other of variants.filter((v) => v !== variant)) {
    const a = document.createElement('a');
    a.href = `/?variant=${other}`;
    a.textContent = other;
    sw.append(sw.childElementCount > 0 ? ' or ' : 'use ', a);
  }

  const auth = await load(c, variant);
  const session = new Session(c, auth, report);
  let oldToken: string | undefined;

  let signedIn = false;
  try {
    signedIn = await auth.start();
  } catch (e) {
    note(`login failed: ${String(e)}`);
  }
  render(auth, signedIn ? 'signed-in' : 'signed-out');

  // Runs a button's work; a refused session shows the login button again.
  const act = (id: string, work: () => Promise<void>) =>
    $(id).addEventListener('click', () => {
      work().catch((e: unknown) => {
        if (e instanceof LoginRequired) {
          render(auth, 'signed-out', 'Signed out: the session has ended, log in again');
        } else {
          note(String(e));
        }
      });
    });

  const show = async (res: Response) => {
    $('result').textContent = res.headers.get('Content-Type')?.includes('json')
      ? JSON.stringify(await res.json(), null, 2)
      : `${res.status} ${res.statusText}`;
  };

  act('login', () => auth.login());
  act('profile', async () => show(await session.api('/api/profile')));
  act('admin', async () => show(await session.api('/api/admin/report')));
  act('refresh', async () => {
    await session.refresh();
    render(auth, 'signed-in');
  });
  act('logout', async () => {
    const { result, accessToken } = await session.logout();
    oldToken = accessToken ?? oldToken;
    $<HTMLButtonElement>('old-token').disabled = oldToken === undefined;
    const queued = `Logged out here; the revocation will be retried in ${session.retryIn} s, or when the network returns`;
    render(auth, 'signed-out', { done: 'Logged out', revoked: 'Logged out (refresh token revoked at Keycloak)', queued }[result]);
  });
  // Not what an app does: it shows that the token the app just dropped is
  // refused by the API, not merely forgotten.
  // With DPoP the request carries a valid proof by the browser's key:
  // what refuses the token is the API's deny-list.
  act('old-token', async () => {
    if (!oldToken) return;
    await show(await session.probe('/api/profile', oldToken, 'GET /api/profile (old token)'));
  });
}

main().catch((e: unknown) => {
  const status = $('status');
  status.dataset['state'] = 'error';
  status.textContent = `The app could not start: ${String(e)}`;
});
