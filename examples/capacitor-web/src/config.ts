// The app's configuration: served as /config.json next to the bundle, so one
// build runs against any Keycloak, realm and API (the tests start them on
// free ports). A native build would compile these values in instead.

/**
 * The OIDC library the page uses: keycloak-js, oidc-client-ts with Bearer
 * tokens, or oidc-client-ts with tokens bound to a key of this browser
 * (DPoP, RFC 9449).
 */
export type Variant = 'keycloak-js' | 'oidc-client-ts' | 'oidc-client-ts-dpop';

export const variants: readonly Variant[] = ['keycloak-js', 'oidc-client-ts', 'oidc-client-ts-dpop'];

export interface Config {
  /** Keycloak's root URL, e.g. http://127.0.0.1:8080. */
  keycloakUrl: string;
  realm: string;
  /** The public client the app logs in with for Bearer tokens ("mobile"). */
  clientId: string;
  /** The public client whose tokens Keycloak binds to the app's key ("mobile-dpop"). */
  dpopClientId: string;
  /** The tokenwarden API (examples/capacitor-backend), e.g. http://127.0.0.1:8081. */
  api: string;
  /** The library used unless the page asks for another one (?variant=). */
  variant: Variant;
}

export function issuer(c: Config): string {
  return `${c.keycloakUrl}/realms/${encodeURIComponent(c.realm)}`;
}

/**
 * The redirect URI registered for the web build: exactly the app's origin
 * and "/", never the current URL (which may carry a query).
 */
export function redirectUri(): string {
  return `${location.origin}/`;
}

export async function loadConfig(): Promise<Config> {
  const res = await fetch('/config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const raw: unknown = await res.json();
  if (typeof raw !== 'object' || raw === null) throw new Error('config.json: not an object');
  const c = raw as Record<string, unknown>;
  const str = (k: string): string => {
    const v = c[k];
    if (typeof v !== 'string' || v === '') throw new Error(`config.json: ${k} missing`);
    return v;
  };
  const variant = c['variant'] ?? 'keycloak-js';
  if (!variants.includes(variant as Variant)) throw new Error(`config.json: unknown variant ${String(variant)}`);
  return {
    keycloakUrl: str('keycloakUrl').replace(/\/+$/, ''),
    realm: str('realm'),
    clientId: str('clientId'),
    dpopClientId: str('dpopClientId'),
    api: str('api').replace(/\/+$/, ''),
    variant: variant as Variant,
  };
}

const variantKey = 'tokenwarden.variant';

/**
 * The library in use: ?variant= (remembered for the tab, so it survives the
 * login redirect), else the one chosen earlier in this tab, else the
 * configured default.
 */
export function chooseVariant(c: Config): Variant {
  const url = new URL(location.href);
  const asked = url.searchParams.get('variant');
  if (asked !== null) {
    if (variants.includes(asked as Variant)) sessionStorage.setItem(variantKey, asked);
    url.searchParams.delete('variant');
    history.replaceState(null, '', url);
  }
  const kept = sessionStorage.getItem(variantKey);
  return variants.includes(kept as Variant) ? (kept as Variant) : c.variant;
}
