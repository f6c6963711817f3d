// The oidc-client-ts variants: a generic OpenID Connect client, with Bearer
// tokens or with tokens bound to a key of this browser (DPoP, RFC 9449).

import {
  DPoPState,
  ErrorResponse,
  InMemoryWebStorage,
  IndexedDbDPoPStore,
  User,
  UserManager,
  WebStorageStateStore,
  type UserProfile,
} from 'oidc-client-ts';
import { LoginRequired, type Auth, type KeyInfo } from './auth';
import { issuer, redirectUri, type Config } from './config';

export function create(c: Config, withDPoP: boolean): Auth {
  const clientId = withDPoP ? c.dpopClientId : c.clientId;
  // DPoP: oidc-client-ts makes a non-extractable ECDSA P-256 key with
  // WebCrypto, keeps the CryptoKeyPair in IndexedDB (the key can sign, and
  // cannot be read, not even by this page's script), sends its thumbprint
  // with the authorization request (dpop_jkt, so the code is bound to it
  // too), and signs a proof for the code exchange and every refresh;
  // authorize below signs one per API request. Keycloak binds the tokens to
  // it (cnf.jkt), the refresh token of a public client included.
  const store = withDPoP ? new IndexedDbDPoPStore() : undefined;
  // Tokens in memory only. The login state (PKCE verifier, state, nonce)
  // stays in localStorage: it must survive the redirect to Keycloak.
  const memory = new InMemoryWebStorage();
  const um = new UserManager({
    authority: issuer(c),
    client_id: clientId,
    redirect_uri: redirectUri(),
    post_logout_redirect_uri: redirectUri(),
    response_type: 'code', // PKCE S256 is always on
    scope: 'openid',
    userStore: new WebStorageStateStore({ store: memory }),
    automaticSilentRenew: false, // the app refreshes when the API answers 401
    monitorSession: false,
    loadUserInfo: false,
    ...(store ? { dpop: { store, bind_authorization_code: true } } : {}),
  });
  let user: User | null = null;

  // Forgets the tokens, not the key: oidc-client-ts's removeUser would
  // delete the key too. The key belongs to this browser rather than to one
  // login: a logout queued while offline still proves possession of it when
  // it is retried, and the next login binds its tokens to it again. It
  // never leaves the browser.
  const drop = () => {
    user = null;
    memory.clear();
  };

  return {
    variant: withDPoP ? 'oidc-client-ts-dpop' : 'oidc-client-ts',
    clientId,

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
          drop();
          throw new LoginRequired('refresh token refused');
        }
        throw e;
      }
      if (user === null) throw new LoginRequired();
    },

    async forget() {
      drop();
    },

    async authorize(url, method, accessToken, nonce): Promise<Record<string, string>> {
      if (!store) return { Authorization: `Bearer ${accessToken}` };
      // dpopProof reads the access token of the User it is given (for ath);
      // the token may be one already forgotten (a queued logout).
      const holder = new User({ access_token: accessToken, token_type: 'DPoP', profile: {} as UserProfile });
      const proof = await um.dpopProof(url, holder, method, nonce);
      if (!proof) throw new Error('no DPoP key in this browser: log in again');
      return { Authorization: `DPoP ${accessToken}`, DPoP: proof };
    },

    async key(): Promise<KeyInfo | undefined> {
      const state: DPoPState | undefined = await store?.get(clientId);
      if (!state) return undefined;
      return { thumbprint: await thumbprint(state.keys.publicKey), extractable: state.keys.privateKey.extractable };
    },
  };
}

/** RFC 7638: SHA-256 of the EC key's required members in lexicographic order. */
async function thumbprint(publicKey: CryptoKey): Promise<string> {
  const { crv, kty, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify({ crv, kty, x, y })));
  return btoa(String.fromCharCode(...new Uint8Array(digest))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
