// The oidc-client-ts variant: a generic OpenID Connect client.

import {
  ErrorResponse,
  InMemoryWebStorage,
  IndexedDbDPoPStore,
  UserManager,
  WebStorageStateStore,
  type User,
} from 'oidc-client-ts';
import { LoginRequired, type Auth } from './auth';
import { issuer, redirectUri, type Config } from './config';

export function create(c: Config): Auth {
  // DPoP (RFC 9449): oidc-client-ts makes a non-extractable ECDSA P-256 key
  // with WebCrypto, keeps it in IndexedDB, binds the code exchange and every
  // refresh to it, and signs a proof per API request (authorize below).
  // Keycloak binds the tokens (cnf.jkt), refresh tokens of public clients
  // included. Off until the API verifies DPoP proofs.
  const dpop = c.dpop ? { store: new IndexedDbDPoPStore(), bind_authorization_code: true } : undefined;
  const um = new UserManager({
    authority: issuer(c),
    client_id: c.clientId,
    redirect_uri: redirectUri(),
    post_logout_redirect_uri: redirectUri(),
    response_type: 'code', // PKCE S256 is always on
    scope: 'openid',
    // Tokens in memory only. The login state (PKCE verifier, state, nonce)
    // stays in localStorage: it must survive the redirect to Keycloak.
    userStore: new WebStorageStateStore({ store: new InMemoryWebStorage() }),
    automaticSilentRenew: false, // the app refreshes when the API answers 401
    monitorSession: false,
    loadUserInfo: false,
    ...(dpop ? { dpop } : {}),
  });
  let user: User | null = null;

  return {
    variant: 'oidc-client-ts',

    async start() {
      const q = new URLSearchParams(location.search);
      if (q.has('state') && (q.has('code') || q.has('error'))) {
        try {
          user = await um.signinRedirectCallback();
        } finally {
          history.replaceState(null, '', location.pathname); // the code is single-use: drop it from the URL
        }
      } else {
        user = await um.getUser();
      }
      return user !== null;
    },

    login: () => um.signinRedirect(),

    tokens: () =>
      user ? { accessToken: user.access_token, refreshToken: user.refresh_token, idToken: user.id_token } : undefined,

    async refresh() {
      if (!user?.refresh_token) throw new LoginRequired();
      try {
        user = await um.signinSilent(); // with a refresh token: the refresh_token grant, no iframe
      } catch (e) {
        if (e instanceof ErrorResponse && e.error === 'invalid_grant') {
          user = null;
          await um.removeUser();
          throw new LoginRequired('refresh token refused');
        }
        throw e;
      }
      if (user === null) throw new LoginRequired();
    },

    async forget() {
      user = null;
      await um.removeUser();
    },

    async authorize(url, method): Promise<Record<string, string>> {
      if (!user) throw new LoginRequired();
      if (!dpop) return { Authorization: `Bearer ${user.access_token}` };
      const proof = await um.dpopProof(url, user, method);
      if (!proof) throw new Error('no DPoP proof');
      return { Authorization: `DPoP ${user.access_token}`, DPoP: proof };
    },
  };
}
