// What the app needs from an OIDC library. keycloak-js.ts and
// oidc-client-ts.ts implement it; session.ts builds the app's behaviour
// (refresh, API calls, logout) on top, the same for both.

import type { Variant } from './config';

/** The session is gone (logged out, ended by an admin, expired): log in again. */
export class LoginRequired extends Error {
  constructor(message = 'login required') {
    super(message);
    this.name = 'LoginRequired';
  }
}

export interface Tokens {
  accessToken: string;
  refreshToken?: string | undefined;
  /** Kept for id_token_hint at Keycloak's end-session endpoint. */
  idToken?: string | undefined;
}

export interface Auth {
  readonly variant: Variant;
  /** The Keycloak client the tokens are issued to (a revocation names it). */
  readonly clientId: string;
  /** Completes a login redirect when the URL carries one; true when tokens are held. */
  start(): Promise<boolean>;
  /** Sends the browser to Keycloak's login page (authorization code + PKCE S256). */
  login(): Promise<void>;
  /** The tokens held in memory, if any. */
  tokens(): Tokens | undefined;
  /** Uses the refresh token; LoginRequired when Keycloak refuses it. */
  refresh(): Promise<void>;
  /** Forgets the tokens. */
  forget(): Promise<void>;
  /**
   * Headers that authorize a request to the API with accessToken: Bearer,
   * or DPoP with a fresh proof for this method and URL signed by the
   * browser's key, carrying the API's nonce when it gave one.
   */
  authorize(url: string, method: string, accessToken: string, nonce?: string): Promise<Record<string, string>>;
  /** The key the tokens are bound to (DPoP), or undefined for Bearer tokens. */
  key(): Promise<KeyInfo | undefined>;
}

export interface KeyInfo {
  /** RFC 7638 thumbprint of the public key: the tokens' cnf.jkt. */
  thumbprint: string;
  /** Whether the private key could be read out of the browser (it must not). */
  extractable: boolean;
}

/** The JWT payload, decoded for display only: the API is what verifies it. */
export function claims(jwt: string | undefined): Record<string, unknown> {
  const part = jwt?.split('.')[1];
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
