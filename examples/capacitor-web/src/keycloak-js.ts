// The keycloak-js variant: Keycloak's own adapter.

import Keycloak from 'keycloak-js';
import { LoginRequired, type Auth } from './auth';
import { redirectUri, type Config } from './config';

export function create(c: Config): Auth {
  const kc = new Keycloak({ url: c.keycloakUrl, realm: c.realm, clientId: c.clientId });
  return {
    variant: 'keycloak-js',
    clientId: c.clientId,

    start: () =>
      kc.init({
        pkceMethod: 'S256',
        // The login-status iframe needs Keycloak's cookies in a third-party
        // frame: blocked by browsers, and absent in a native app.
        checkLoginIframe: false,
        redirectUri: redirectUri(),
        responseMode: 'fragment',
      }),

    login: () => kc.login({ redirectUri: redirectUri() }),

    tokens: () => (kc.token ? { accessToken: kc.token, refreshToken: kc.refreshToken, idToken: kc.idToken } : undefined),

    async refresh() {
      if (!kc.refreshToken) throw new LoginRequired();
      try {
        await kc.updateToken(-1); // -1: refresh now, whatever the token's age
      } catch (e) {
        // 400 is invalid_grant: keycloak-js has already dropped the tokens.
        if (statusOf(e) === 400) throw new LoginRequired('refresh token refused');
        throw e;
      }
    },

    async forget() {
      kc.clearToken();
    },

    // keycloak-js has no DPoP (docs/dpop.md): its tokens are bearer tokens.
    async authorize(_url, _method, accessToken) {
      return { Authorization: `Bearer ${accessToken}` };
    },

    async key() {
      return undefined;
    },
  };
}

// keycloak-js rejects a failed request with its NetworkError, which carries
// the Response (the class is not in its type declarations).
function statusOf(e: unknown): number | undefined {
  const res: unknown = typeof e === 'object' && e !== null && 'response' in e ? e.response : undefined;
  return res instanceof Response ? res.status : undefined;
}
