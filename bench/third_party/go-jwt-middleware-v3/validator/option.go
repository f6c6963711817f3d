package validator

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Option is how options for the Validator are set up.
// Options return errors to enable validation during construction.
type Option func(*Validator) error

// WithKeyFunc sets the function that provides the key for token verification.
// This is a required option.
//
// The keyFunc is called during token validation to retrieve the key(s) used
// to verify the token signature. For JWKS-based validation, use jwks.Provider.KeyFunc.
func WithKeyFunc(keyFunc func(context.Context) (any, error)) Option {
	return func(v *Validator) error {
		if keyFunc == nil {
			return errors.New("keyFunc cannot be nil")
		}
		v.keyFunc = keyFunc
		return nil
	}
}

// WithAlgorithm sets the signature algorithm that tokens must use.
// This is a required option.
//
// Supported algorithms: RS256, RS384, RS512, ES256, ES384, ES512,
// PS256, PS384, PS512, HS256, HS384, HS512, EdDSA.
func WithAlgorithm(algorithm SignatureAlgorithm) Option {
	return func(v *Validator) error {
		if len(v.allowedAlgorithms) > 0 {
			return errors.New("cannot use WithAlgorithm with WithAlgorithms")
		}
		if _, ok := allowedSigningAlgorithms[algorithm]; !ok {
			return fmt.Errorf("unsupported signature algorithm: %s", algorithm)
		}
		v.allowedAlgorithms = []SignatureAlgorithm{algorithm}
		return nil
	}
}

// WithAlgorithms sets multiple signature algorithms that tokens may use.
// This is useful for mixed-algorithm MCD (Multiple Custom Domains) scenarios
// where different issuers use different algorithms (e.g., RS256 + HS256).
//
// Tokens will be validated against the allowed list before signature verification.
// Cannot be used with WithAlgorithm — they are mutually exclusive.
//
// Supported algorithms: RS256, RS384, RS512, ES256, ES384, ES512,
// PS256, PS384, PS512, HS256, HS384, HS512, EdDSA.
func WithAlgorithms(algorithms []SignatureAlgorithm) Option {
	return func(v *Validator) error {
		if len(v.allowedAlgorithms) > 0 {
			return errors.New("cannot use WithAlgorithms with WithAlgorithm")
		}
		if len(algorithms) == 0 {
			return errors.New("algorithms list cannot be empty")
		}
		for i, alg := range algorithms {
			if _, ok := allowedSigningAlgorithms[alg]; !ok {
				return fmt.Errorf("unsupported signature algorithm at index %d: %s", i, alg)
			}
		}
		v.allowedAlgorithms = algorithms
		return nil
	}
}

// WithIssuer sets a single expected issuer claim (iss) for token validation.
// This is a required option (use either WithIssuer, WithIssuers, or WithIssuersResolver, not multiple).
//
// The issuer URL should match the iss claim in the JWT. Tokens with a
// different issuer will be rejected.
//
// Cannot be used with WithIssuersResolver.
func WithIssuer(issuerURL string) Option {
	return func(v *Validator) error {
		if issuerURL == "" {
			return errors.New("issuer cannot be empty")
		}
		if v.issuersResolver != nil {
			return errors.New("cannot use WithIssuer with WithIssuersResolver")
		}
		// Optional: Validate URL format
		if _, err := url.Parse(issuerURL); err != nil {
			return fmt.Errorf("invalid issuer URL: %w", err)
		}
		v.expectedIssuers = []string{issuerURL}
		return nil
	}
}

// WithIssuers sets multiple expected issuer claims (iss) for token validation.
// This is a required option (use either WithIssuer, WithIssuers, or WithIssuersResolver, not multiple).
//
// The token must contain one of the specified issuers. Tokens without
// any matching issuer will be rejected.
//
// Cannot be used with WithIssuersResolver.
func WithIssuers(issuers []string) Option {
	return func(v *Validator) error {
		if len(issuers) == 0 {
			return errors.New("issuers cannot be empty")
		}
		if v.issuersResolver != nil {
			return errors.New("cannot use WithIssuers with WithIssuersResolver")
		}
		for i, iss := range issuers {
			if iss == "" {
				return fmt.Errorf("issuer at index %d cannot be empty", i)
			}
			// Validate URL format
			if _, err := url.Parse(iss); err != nil {
				return fmt.Errorf("invalid issuer URL at index %d: %w", i, err)
			}
		}
		v.expectedIssuers = issuers
		return nil
	}
}

// WithIssuersResolver sets a dynamic issuer resolution function for token validation.
// This option allows issuers to be determined at request time based on the request context.
//
// The resolver function receives the request context and should return a list of allowed issuers.
// This enables use cases like:
//   - Multi-tenant SaaS applications (resolve issuer based on tenant from context)
//   - Database-backed issuer lists
//   - Dynamic issuer allowlists
//
// IMPORTANT: The resolver function must be:
//   - Thread-safe (called concurrently by multiple requests)
//   - Fast (< 5ms recommended - implement caching if needed)
//   - Secure (validate and sanitize any data from context)
//
// Security note: The issuer value available via IssuerFromContext at the time
// the resolver is called comes from the unverified token claims. Resolvers
// should only use it for comparison against an allowlist. Do not use it for
// logging, metrics, database queries, or any operation with side effects,
// as this could enable log injection or oracle attacks.
//
// Cannot be used with WithIssuer or WithIssuers - they are mutually exclusive.
//
// Example with caching:
//
//	validator.New(
//	    validator.WithIssuersResolver(func(ctx context.Context) ([]string, error) {
//	        tenant := TenantFromContext(ctx)
//
//	        // Check cache first (user-managed caching)
//	        if cached, err := redis.Get("issuers:"+tenant).Result(); err == nil {
//	            return parseIssuers(cached), nil
//	        }
//
//	        // Fallback to database query
//	        issuers, err := db.GetIssuers(ctx, tenant)
//	        if err != nil {
//	            return nil, err
//	        }
//
//	        // Cache for next request
//	        redis.Set("issuers:"+tenant, format(issuers), 5*time.Minute)
//	        return issuers, nil
//	    }),
//	    // ... other options
//	)
func WithIssuersResolver(resolver func(ctx context.Context) ([]string, error)) Option {
	return func(v *Validator) error {
		if resolver == nil {
			return errors.New("resolver cannot be nil")
		}
		if len(v.expectedIssuers) > 0 {
			return errors.New("cannot use WithIssuersResolver with WithIssuer/WithIssuers")
		}
		v.issuersResolver = resolver
		return nil
	}
}

// WithAudience sets a single expected audience claim (aud) for token validation.
// This is a required option (use either WithAudience or WithAudiences, not both).
//
// The audience should match one of the aud claims in the JWT. Tokens without
// a matching audience will be rejected.
func WithAudience(audience string) Option {
	return func(v *Validator) error {
		if audience == "" {
			return errors.New("audience cannot be empty")
		}
		v.expectedAudiences = []string{audience}
		return nil
	}
}

// WithAudiences sets multiple expected audience claims (aud) for token validation.
// This is a required option (use either WithAudience or WithAudiences, not both).
//
// The token must contain at least one of the specified audiences. Tokens without
// any matching audience will be rejected.
func WithAudiences(audiences []string) Option {
	return func(v *Validator) error {
		if len(audiences) == 0 {
			return errors.New("audiences cannot be empty")
		}
		for i, aud := range audiences {
			if aud == "" {
				return fmt.Errorf("audience at index %d cannot be empty", i)
			}
		}
		v.expectedAudiences = audiences
		return nil
	}
}

// WithAllowedClockSkew sets the allowed clock skew for time-based claims.
//
// This allows for some tolerance when validating exp, nbf, and iat claims
// to account for clock differences between systems. If not set, the default
// is 0 (no clock skew allowed).
func WithAllowedClockSkew(skew time.Duration) Option {
	return func(v *Validator) error {
		if skew < 0 {
			return errors.New("clock skew cannot be negative")
		}
		v.allowedClockSkew = skew
		return nil
	}
}

// WithCustomClaims sets a function that returns a CustomClaims object
// for unmarshalling and validation.
//
// The function is called during construction to validate it returns a non-nil
// value, and then called for each token validation to create a new instance.
//
// Using generics allows you to return your concrete claims type directly
// without needing to explicitly cast to the CustomClaims interface.
//
// IMPORTANT: The function must be:
//   - Thread-safe (called concurrently by multiple requests)
//   - Idempotent (returns a new instance each time, no shared state)
//   - Fast (called on every token validation)
//   - Panic-free (panics will crash the request handler)
//
// Example:
//
//	validator.New(
//	    // ... other options
//	    validator.WithCustomClaims(func() *MyClaims {
//	        return &MyClaims{}  // No interface cast needed
//	    }),
//	)
func WithCustomClaims[T CustomClaims](f func() T) Option {
	return func(v *Validator) error {
		if f == nil {
			return errors.New("custom claims function cannot be nil")
		}

		// Wrap to return interface type for internal storage
		// Note: The function can return nil at runtime for conditional custom claims,
		// which is handled by customClaimsExist() during validation
		v.customClaims = func() CustomClaims {
			return f()
		}

		return nil
	}
}
