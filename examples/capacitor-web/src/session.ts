// The app's side of the contract with the tokenwarden API, the same for every
// library and for the native build (docs/capacitor.md): one refresh at a
// time, one retry after a 401, the API's DPoP nonce, and a logout that
// cannot leave tokens behind.

import { LoginRequired, type Auth } from './auth';
import { issuer, type Config } from './config';

const RouteLogout = '/auth/logout';

// When a queued logout is tried again without a Retry-After, and the bounds
// put on one (a proxy's answer could ask for a day).
const RetryDefault = 30_000;
const RetryMin = 1_000;
const RetryMax = 10 * 60_000;

/** Milliseconds of a Retry-After (RFC 9110 §10.2.3: seconds or an HTTP date), bounded; 0 when absent or unreadable. */
function retryAfterMs(v: string | null, now = Date.now()): number {
  if (v === null || v.trim() === '') return 0;
  const t = v.trim();
  const ms = /^\d+$/.test(t) ? Number(t) * 1000 : Date.parse(t) - now;
  if (!Number.isFinite(ms)) return 0;
  return Math.min(Math.max(ms, RetryMin), RetryMax);
}

/** One HTTP exchange, reported to the page. */
export interface Exchange {
  what: string; // e.g. "GET /api/profile"
  status: number; // 0 when the request failed before an answer
  detail: string; // WWW-Authenticate, an error code, or a note
}

/** What became of the tokens at logout. */
export type LogoutResult =
  | 'done' // 204: access token refused by the API on every replica, refresh token revoked
  | 'revoked' // the API could not act (400/401): the refresh token was revoked at Keycloak directly
  | 'queued'; // 503 or offline: forgotten here, revocation retried when the network allows

interface Pending {
  accessToken: string;
  refreshToken: string;
}

export class Session {
  readonly #c: Config;
  readonly #auth: Auth;
  readonly #report: (e: Exchange) => void;
  #inflight: Promise<void> | null = null;
  #loggingOut = false;
  #pending: Pending[] = []; // native build: kept in secure storage, not in memory
  #nonce: string | undefined; // the API's latest DPoP-Nonce, put in the next proofs
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryAfter = 0; // ms, the largest Retry-After of the 503s since the last schedule
  #nextDelay = 0; // ms, the delay of the scheduled retry

  constructor(c: Config, auth: Auth, report: (e: Exchange) => void) {
    this.#c = c;
    this.#auth = auth;
    this.#report = report;
    addEventListener('online', () => void this.#drain());
  }

  /** Refreshes the tokens; concurrent callers share one refresh. */
  refresh(): Promise<void> {
    if (this.#loggingOut) return Promise.reject(new LoginRequired('logging out'));
    this.#inflight ??= this.#auth
      .refresh()
      .then(
        () => this.#report({ what: 'refresh', status: 200, detail: 'new tokens' }),
        (e: unknown) => {
          this.#report({ what: 'refresh', status: e instanceof LoginRequired ? 400 : 0, detail: String(e) });
          throw e;
        },
      )
      .finally(() => {
        this.#inflight = null;
      });
    return this.#inflight;
  }

  /**
   * Calls the API with the access token. A 401 (expired, logged out,
   * revoked) triggers one refresh and one retry; a 403 does not: a new token
   * carries the same roles. LoginRequired means: show the login screen.
   */
  async api(path: string, init: RequestInit = {}): Promise<Response> {
    if (this.#loggingOut) throw new LoginRequired('logging out');
    if (!this.#auth.tokens()) await this.refresh();
    const res = await this.#call(path, init, this.#accessToken());
    if (res.status !== 401) return res;
    await this.refresh();
    return this.#call(path, init, this.#accessToken());
  }

  /**
   * Calls the API with the given access token, once, without refreshing:
   * not what an app does, but it shows that a token the app has dropped is
   * refused by the API, not merely forgotten.
   */
  probe(path: string, accessToken: string, what: string): Promise<Response> {
    return this.#call(path, {}, accessToken, what);
  }

  #accessToken(): string {
    const t = this.#auth.tokens();
    if (!t) throw new LoginRequired();
    return t.accessToken;
  }

  /**
   * Sends one request to the API, authorized by the library (Bearer, or
   * DPoP with a proof). With DPoP the API may want its nonce in the proof
   * (RFC 9449 §9): it answers 401 use_dpop_nonce with a DPoP-Nonce header,
   * and the request goes once more with a proof carrying it. Every answer's
   * DPoP-Nonce is kept for the next proofs, so that a nonce that rotates
   * costs no refusal.
   */
  async #call(path: string, init: RequestInit, accessToken: string, what?: string): Promise<Response> {
    const url = this.#c.api + path;
    const method = init.method ?? 'GET';
    const send = async () => {
      const headers = new Headers(init.headers);
      for (const [k, v] of Object.entries(await this.#auth.authorize(url, method, accessToken, this.#nonce))) headers.set(k, v);
      const res = await fetch(url, { ...init, method, headers });
      this.#report({
        what: what ?? `${method} ${path}`,
        status: res.status,
        detail: res.headers.get('WWW-Authenticate') ?? res.headers.get('Retry-After') ?? '',
      });
      const nonce = res.headers.get('DPoP-Nonce'); // readable: the API's CORS exposes it
      if (nonce) this.#nonce = nonce;
      return { res, wantsNonce: res.status === 401 && nonce !== null && /error="use_dpop_nonce"/.test(res.headers.get('WWW-Authenticate') ?? '') };
    };
    const first = await send();
    return first.wantsNonce ? (await send()).res : first.res;
  }

  /**
   * Logs out through the API (which refuses the access token on every
   * replica and revokes the refresh token at Keycloak), then forgets the
   * tokens whatever happened: a refresh in flight is awaited first, so it
   * cannot write tokens back afterwards, and no new call starts meanwhile.
   * Returns the access token that was in use.
   */
  async logout(): Promise<{ result: LogoutResult; accessToken?: string }> {
    this.#loggingOut = true;
    try {
      await this.#inflight?.catch(() => {});
      const t = this.#auth.tokens();
      if (!t?.refreshToken) return { result: 'done' };
      const p = { accessToken: t.accessToken, refreshToken: t.refreshToken };
      const result = await this.#logoutOnce(p);
      if (result === 'queued') this.#queue(p);
      return { result, accessToken: t.accessToken };
    } finally {
      await this.#auth.forget();
      this.#loggingOut = false;
    }
  }

  /** Whether revocations are waiting for the network. */
  get pending(): number {
    return this.#pending.length;
  }

  /** The delay, in seconds, of the retry scheduled for the queued revocations (sooner if the network returns); 0 when none wait. */
  get retryIn(): number {
    return this.#pending.length > 0 ? Math.round(this.#nextDelay / 1000) : 0;
  }

  async #logoutOnce(p: Pending): Promise<LogoutResult> {
    let res: Response;
    try {
      // With DPoP the request carries a fresh proof by the browser's key, on
      // the first try and on every retry from the queue: a copied token
      // cannot log the session out either.
      res = await this.#call(RouteLogout, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ refresh_token: p.refreshToken }),
      }, p.accessToken);
    } catch (e) {
      if (e instanceof TypeError) {
        // fetch's network error: offline, or the API unreachable.
        this.#report({ what: `POST ${RouteLogout}`, status: 0, detail: `offline: ${String(e)}` });
        return 'queued';
      }
      // No proof could be made (the key is gone): the API cannot act on the
      // token, Keycloak can still revoke the refresh token.
      this.#report({ what: `POST ${RouteLogout}`, status: 0, detail: String(e) });
      return (await this.#revokeAtKeycloak(p.refreshToken)) ? 'revoked' : 'queued';
    }
    switch (res.status) {
      case 204:
        return 'done';
      case 400: // the request or the refresh token was not accepted
      case 401: // the access token had expired: the API could not act on it
        return (await this.#revokeAtKeycloak(p.refreshToken)) ? 'revoked' : 'queued';
      default: // 503 (Retry-After): the access token may already be refused; the refresh token may live on
        this.#retryAfter = Math.max(this.#retryAfter, retryAfterMs(res.headers.get('Retry-After')));
        return 'queued';
    }
  }

  /** RFC 7009 at Keycloak: a public client revokes its own tokens with its client_id. */
  async #revokeAtKeycloak(refreshToken: string): Promise<boolean> {
    try {
      const res = await fetch(`${issuer(this.#c)}/protocol/openid-connect/revoke`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: this.#auth.clientId, token: refreshToken, token_type_hint: 'refresh_token' }),
      });
      this.#report({ what: 'POST …/revoke (Keycloak)', status: res.status, detail: '' });
      return res.ok;
    } catch (e) {
      this.#report({ what: 'POST …/revoke (Keycloak)', status: 0, detail: `offline: ${String(e)}` });
      return false;
    }
  }

  #queue(p: Pending): void {
    this.#pending.push(p);
    this.#scheduleRetry();
  }

  /** The next try: when the API's Retry-After says, else in 30 s; and at once when the network returns. */
  #scheduleRetry(): void {
    this.#nextDelay = this.#retryAfter || RetryDefault;
    this.#retryAfter = 0;
    this.#schedule(this.#nextDelay);
  }

  #schedule(ms: number): void {
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.#drain(), ms);
  }

  async #drain(): Promise<void> {
    const waiting = this.#pending;
    this.#pending = [];
    for (const p of waiting) {
      if ((await this.#logoutOnce(p)) === 'queued') this.#pending.push(p);
    }
    if (this.#pending.length > 0) this.#scheduleRetry();
  }
}
