package oidc

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseClaimsIntrospection(t *testing.T) {
	resp := []byte(`{"active":true,"exp":1800000300,"iat":1799999990,"auth_time":1799999980,"jti":"j","iss":"` + testIssuer + `",
		"aud":["backend","account"],"sub":"u","typ":"Bearer","azp":"mobile","sid":"s","acr":"1","allowed-origins":["https://localhost"],
		"realm_access":{"roles":["user"]},"resource_access":{"backend":{"roles":["reader"]}},"scope":"openid email",
		"email_verified":false,"preferred_username":"alice","client_id":"mobile","username":"alice","token_type":"Bearer",
		"cnf":{"jkt":"abc","x5t#S256":"def","jwk":{"kty":"EC"}}}`)
	c, err := ParseClaims(resp)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientID != "mobile" || c.PreferredUsername != "alice" || !c.HasClientRole("backend", "reader") ||
		!c.HasRealmRole("user") || !c.Expiry.Equal(time.Unix(1800000300, 0)) || !c.AuthTime.Equal(time.Unix(1799999980, 0)) ||
		c.Confirmation == nil || c.Confirmation.JKT != "abc" || c.Confirmation.X5TSHA256 != "def" {
		t.Fatalf("claims: %+v", c)
	}
	raw := c.Raw
	resp[2] = 'X' // the caller's buffer is not retained
	if c.Raw != raw || raw[2] != 'a' {
		t.Fatal("Raw aliases the caller's buffer")
	}
	var extra struct {
		Active   bool   `json:"active"`
		Username string `json:"username"`
	}
	if err := c.Decode(&extra); err != nil || !extra.Active || extra.Username != "alice" {
		t.Fatalf("Decode: %v %+v", err, extra)
	}
}

func TestParseClaimsStrict(t *testing.T) {
	tests := []struct {
		name, json string
		ok         bool
	}{
		{"empty object", `{}`, true},
		{"whitespace", " \t\r\n{ \"sub\" : \"x\" } \n", true},
		{"escaped strings", `{"sub":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`, true},
		{"aud string", `{"aud":"x"}`, true},
		{"aud empty array", `{"aud":[]}`, true},
		{"null member", `{"sub":null,"aud":null,"exp":null}`, true},
		{"unknown nested", `{"x":{"a":[{"b":[]},1e5,-0.5,true,false,null]}}`, true},
		{"numeric date max", `{"exp":99999999999}`, true},
		{"not an object", `[]`, false},
		{"empty", ``, false},
		{"trailing comma", `{"sub":"x",}`, false},
		{"trailing comma in array", `{"aud":["x",]}`, false},
		{"missing colon", `{"sub" "x"}`, false},
		{"single quotes", `{'sub':'x'}`, false},
		{"two objects", `{}{}`, false},
		{"leading zero", `{"x":01}`, false},
		{"bare minus", `{"x":-}`, false},
		{"NaN", `{"x":NaN}`, false},
		{"control char", "{\"sub\":\"a\x01b\"}", false},
		{"invalid utf-8", "{\"sub\":\"\xc3\x28\"}", false},
		{"overlong utf-8", "{\"sub\":\"\xc0\xaf\"}", false},
		{"lone low surrogate", `{"sub":"\udc00"}`, false},
		{"lone high surrogate", `{"sub":"\ud800x"}`, false},
		{"bad escape", `{"sub":"\x41"}`, false},
		{"short unicode escape", `{"sub":"\u00e"}`, false},
		{"duplicate", `{"sub":"a","sub":"b"}`, false},
		{"duplicate via escape", `{"sub":"a","\u0073ub":"b"}`, false},
		{"case-variant duplicate", `{"sub":"a","SUB":"b"}`, false},
		{"kelvin-sign variant", `{"kid":"a","\u212aid":"b"}`, false},
		{"duplicate unknown", `{"x":1,"x":2}`, false},
		{"duplicate in unknown object", `{"x":{"a":1,"a":2}}`, false},
		{"duplicate in realm_access", `{"realm_access":{"roles":[],"roles":["admin"]}}`, false},
		{"duplicate in cnf", `{"cnf":{"jkt":"a","jkt":"b"}}`, false},
		{"duplicate in events", `{"events":{"e":{},"e":{}}}`, false},
		{"exp string", `{"exp":"1"}`, false},
		{"exp float", `{"exp":1.5}`, false},
		{"exp exponent", `{"exp":1e9}`, false},
		{"exp negative", `{"exp":-5}`, false},
		{"exp zero", `{"exp":0}`, false},
		{"exp too large", `{"exp":100000000000}`, false},
		{"exp huge", `{"exp":1e300}`, false},
		{"aud number", `{"aud":1}`, false},
		{"aud object", `{"aud":{}}`, false},
		{"roles with null", `{"realm_access":{"roles":["a",null]}}`, false},
		{"roles not array", `{"realm_access":{"roles":"admin"}}`, false},
		{"resource_access array", `{"resource_access":[]}`, false},
		{"scope array", `{"scope":["a"]}`, false},
		{"deep nesting", `{"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, false},
		{"unterminated", `{"sub":"x`, false},
		{"bad literal", `{"x":tru}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseClaims([]byte(tc.json))
			if tc.ok && err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrMalformed) {
				t.Fatalf("error = %v, want ErrMalformed", err)
			}
		})
	}
}

func BenchmarkParseClaims(b *testing.B) {
	payload := []byte(claimsJSON(b, map[string]any{
		"realm_access": map[string]any{"roles": []string{"offline_access", "uma_authorization", "user", "admin", "default-roles-tokenwarden", "auditor"}},
		"resource_access": map[string]any{
			"backend": map[string]any{"roles": []string{"reader", "writer", "exporter"}},
			"account": map[string]any{"roles": []string{"manage-account", "manage-account-links", "view-profile"}},
		},
	}))
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClaims(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseClaimsOrganizationsAndGroups decodes the shapes Keycloak 26.7.3
// gives the organization claim (an array of aliases by default, an object
// keyed by alias with the mapper's id or attribute options) and groups.
func TestParseClaimsOrganizationsAndGroups(t *testing.T) {
	tests := []struct {
		name, json   string
		orgs, groups []string
		wantErr      bool
	}{
		{"aliases", `{"organization":["acme","globex"],"groups":["/staff/ops","/staff"]}`, []string{"acme", "globex"}, []string{"/staff/ops", "/staff"}, false},
		{"object with ids", `{"organization":{"acme":{"id":"93f75744"},"globex":{"id":"x","city":["Paris"]}}}`, []string{"acme", "globex"}, nil, false},
		{"empty object", `{"organization":{}}`, nil, nil, false},
		{"two mappers", `{"organization":["acme",{"acme":{"id":"x"}}]}`, []string{"acme", "acme"}, nil, false},
		{"null", `{"organization":null,"groups":null}`, nil, nil, false},
		{"bare names", `{"groups":["ops"]}`, nil, []string{"ops"}, false},
		{"duplicate alias", `{"organization":{"acme":{},"ACME":{}}}`, nil, nil, true},
		{"string", `{"organization":"acme"}`, nil, nil, true},
		{"group number", `{"groups":[1]}`, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseClaims([]byte(tt.json))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(c.Organizations, ",") != strings.Join(tt.orgs, ",") || strings.Join(c.Groups, ",") != strings.Join(tt.groups, ",") {
				t.Fatalf("organizations %q groups %q", c.Organizations, c.Groups)
			}
		})
	}
}
