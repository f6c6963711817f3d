package fake

import (
	"strings"
	"testing"
)

func TestConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"realm name", Config{Realm: "a/b"}, "realm name"},
		{"client without id", Config{Clients: []Client{{}}}, "client without ID"},
		{"duplicate client", Config{Clients: []Client{{ID: "a"}, {ID: "a"}}}, "defined twice"},
		{"public service account", Config{Clients: []Client{{ID: "a", ServiceAccount: true}}}, "confidential"},
		{"user without name", Config{Users: []User{{}}}, "without Username"},
		{"duplicate user", Config{Users: []User{{Username: "u"}, {Username: "u"}}}, "defined twice"},
		{"duplicate user id", Config{Users: []User{{Username: "u", ID: "1"}, {Username: "v", ID: "1"}}}, "used twice"},
		{"roles of an unknown client", Config{Users: []User{{Username: "u", ClientRoles: map[string][]string{"nosuch": {"r"}}}}}, "unknown client"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			k, err := start(tt.cfg)
			if err == nil {
				k.srv.Close()
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDecodeObject(t *testing.T) {
	o, err := decodeObject([]byte(` {"b":1,"a":{"x":[1,2]},"c":"<&>"} `))
	if err != nil {
		t.Fatal(err)
	}
	b, err := o.MarshalJSON()
	if err != nil || string(b) != `{"b":1,"a":{"x":[1,2]},"c":"<&>"}` {
		t.Fatalf("round trip %s %v", b, err)
	}
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":1} x`, `[1]`, `{"a":`, ``} {
		if _, err := decodeObject([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHeaderLayout(t *testing.T) {
	b, err := encodeHeader(header("RS256", "JWT", "k1"))
	if err != nil || string(b) != `{"alg":"RS256","typ" : "JWT","kid" : "k1"}` {
		t.Fatalf("%s %v", b, err)
	}
}
