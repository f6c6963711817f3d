package jose

import (
	"slices"
	"testing"

	"github.com/tokenwarden/tokenwarden/internal/strictjson"
)

// TestDecodeClaimsOrganizationsAndGroups decodes the shapes Keycloak 26.7.3
// gives the organization claim (an array of aliases by default, an object
// keyed by alias with the mapper's id or attribute options, an array of
// both with two mappers) and groups, and refuses every other shape and any
// repeated name inside them.
func TestDecodeClaimsOrganizationsAndGroups(t *testing.T) {
	tests := []struct {
		name, json   string
		orgs, groups []string
		wantErr      bool
	}{
		{"aliases", `{"organization":["acme","globex"],"groups":["/staff/ops","/staff"]}`, []string{"acme", "globex"}, []string{"/staff/ops", "/staff"}, false},
		{"object with ids", `{"organization":{"acme":{"id":"93f75744"},"globex":{"id":"x","city":["Paris"]}}}`, []string{"acme", "globex"}, nil, false},
		{"empty object", `{"organization":{}}`, nil, nil, false},
		{"empty array", `{"organization":[]}`, nil, nil, false},
		{"two mappers", `{"organization":["acme",{"acme":{"id":"x"}}]}`, []string{"acme", "acme"}, nil, false},
		{"escaped alias", `{"organization":{"\u0061cme":{}}}`, []string{"acme"}, nil, false},
		{"null", `{"organization":null,"groups":null}`, nil, nil, false},
		{"bare names", `{"groups":["ops"]}`, nil, []string{"ops"}, false},
		{"duplicate alias", `{"organization":{"acme":{},"ACME":{}}}`, nil, nil, true},
		{"duplicate alias through an escape", `{"organization":{"acme":{},"\u0061cme":{}}}`, nil, nil, true},
		{"duplicate alias in an array's object", `{"organization":["x",{"acme":{},"acme":{}}]}`, nil, nil, true},
		{"duplicate inside an alias's value", `{"organization":{"acme":{"id":"a","ID":"b"}}}`, nil, nil, true},
		{"duplicate organization claim", `{"organization":["a"],"Organization":["b"]}`, nil, nil, true},
		{"string", `{"organization":"acme"}`, nil, nil, true},
		{"number", `{"organization":1}`, nil, nil, true},
		{"null element", `{"organization":["acme",null]}`, nil, nil, true},
		{"nested array", `{"organization":[["acme"]]}`, nil, nil, true},
		{"invalid alias value", `{"organization":{"acme":tru}}`, nil, nil, true},
		{"group number", `{"groups":[1]}`, nil, nil, true},
		{"groups object", `{"groups":{"ops":{}}}`, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var x Extras
			c, err := DecodeClaims(tt.json, &x)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("accepted: %+v", c)
				}
				if e, ok := err.(*Error); !ok || e.Kind != Malformed {
					t.Fatalf("error %v is not a Malformed *Error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Organizations, tt.orgs) || !slices.Equal(c.Groups, tt.groups) {
				t.Fatalf("organizations %q groups %q", c.Organizations, c.Groups)
			}
			// DecodeWith reads the same members the same way.
			c2, err := DecodeWith(tt.json, &x, func(string, *strictjson.Reader) (bool, error) { return false, nil })
			if err != nil || !slices.Equal(c2.Organizations, tt.orgs) || !slices.Equal(c2.Groups, tt.groups) {
				t.Fatalf("DecodeWith: %v, organizations %q groups %q", err, c2.Organizations, c2.Groups)
			}
		})
	}
}

// TestDecodeClaimsArraysDoNotShare: the string arrays share one backing
// array, so appending to one must not write into the next.
func TestDecodeClaimsArraysDoNotShare(t *testing.T) {
	var x Extras
	c, err := DecodeClaims(`{"aud":["a"],"organization":["acme",{"globex":{}}],"groups":["/g"],"realm_access":{"roles":["r"]}}`, &x)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(c.Audience, "X")
	_ = append(c.Organizations, "X")
	_ = append(c.Groups, "X")
	if !slices.Equal(c.Organizations, []string{"acme", "globex"}) || !slices.Equal(c.Groups, []string{"/g"}) || !slices.Equal(c.RealmRoles, []string{"r"}) || !slices.Equal(c.Audience, []string{"a"}) {
		t.Fatalf("aud %q organizations %q groups %q roles %q", c.Audience, c.Organizations, c.Groups, c.RealmRoles)
	}
}
