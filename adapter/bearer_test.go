package adapter

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestExtractHeader(t *testing.T) {
	long := strings.Repeat("a", maxTokenBytes+1)
	tests := []struct {
		name    string
		headers []string
		want    string
		wantErr error
	}{
		{"missing", nil, "", errNoCredentials},
		{"bearer", []string{"Bearer abc.def.ghi"}, "abc.def.ghi", nil},
		{"lowercase scheme", []string{"bearer abc"}, "abc", nil},
		{"mixed case scheme", []string{"BeArEr abc"}, "abc", nil},
		{"several spaces", []string{"Bearer   abc"}, "abc", nil},
		{"padding", []string{"Bearer abc=="}, "abc==", nil},
		{"all b64token chars", []string{"Bearer aZ09-._~+/="}, "aZ09-._~+/=", nil},
		{"other scheme", []string{"Basic dXNlcjpwYXNz"}, "", errNoCredentials},
		{"longer scheme name", []string{"Bearerish abc"}, "", errNoCredentials},
		{"scheme only", []string{"Bearer"}, "", errMalformedBearer},
		{"scheme and spaces", []string{"Bearer   "}, "", errMalformedBearer},
		{"tab separator", []string{"Bearer\tabc"}, "", errMalformedBearer},
		{"two tokens", []string{"Bearer abc def"}, "", errMalformedBearer},
		{"comma list", []string{"Bearer abc, Bearer def"}, "", errMalformedBearer},
		{"quoted", []string{`Bearer "abc"`}, "", errMalformedBearer},
		{"only padding", []string{"Bearer ==="}, "", errMalformedBearer},
		{"padding in middle", []string{"Bearer ab=c"}, "", errMalformedBearer},
		{"non ascii", []string{"Bearer abcé"}, "", errMalformedBearer},
		{"nul byte", []string{"Bearer ab\x00c"}, "", errMalformedBearer},
		{"oversized", []string{"Bearer " + long}, "", errTokenTooLarge},
		{"two headers", []string{"Bearer abc", "Bearer abc"}, "", errMultipleTokens},
		{"bearer and basic headers", []string{"Bearer abc", "Basic eA=="}, "", errMultipleTokens},
	}
	var e Extractor
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			got, _, err := e.extract(r, true)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("token = %q, want %q", got, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "abc") {
				t.Fatalf("error %q leaks the token", err)
			}
		})
	}
}

func TestExtractMaxTokenBytes(t *testing.T) {
	e := Extractor{MaxTokenBytes: 4}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer abcd")
	if tok, _, err := e.extract(r, true); err != nil || tok != "abcd" {
		t.Fatalf("at the cap: %q, %v", tok, err)
	}
	r.Header.Set("Authorization", "Bearer abcde")
	if _, _, err := e.extract(r, true); !errors.Is(err, errTokenTooLarge) {
		t.Fatalf("over the cap: %v", err)
	}
}

func TestExtractFormBody(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name     string
		allow    bool
		method   string
		ctype    string
		body     string
		header   string
		want     string
		wantErr  error
		wantBody string // what the handler reads afterwards; defaults to body
	}{
		{name: "disabled ignores body", method: "POST", ctype: form, body: "access_token=abc", wantErr: errNoCredentials},
		{name: "form token", allow: true, method: "POST", ctype: form, body: "a=1&access_token=abc", want: "abc"},
		{name: "form with charset", allow: true, method: "POST", ctype: form + "; charset=UTF-8", body: "access_token=abc", want: "abc"},
		{name: "put", allow: true, method: "PUT", ctype: form, body: "access_token=abc", want: "abc"},
		{name: "get never", allow: true, method: "GET", ctype: form, body: "access_token=abc", wantErr: errNoCredentials},
		{name: "json body ignored", allow: true, method: "POST", ctype: "application/json", body: `{"access_token":"abc"}`, wantErr: errNoCredentials},
		{name: "multipart ignored", allow: true, method: "POST", ctype: "multipart/form-data; boundary=x", body: "access_token=abc", wantErr: errNoCredentials},
		{name: "header and form", allow: true, method: "POST", ctype: form, body: "access_token=abc", header: "Bearer abc", wantErr: errMultipleTokens},
		{name: "twice in form", allow: true, method: "POST", ctype: form, body: "access_token=abc&access_token=abc", wantErr: errMultipleTokens},
		{name: "bad chars in form token", allow: true, method: "POST", ctype: form, body: "access_token=a%20b", wantErr: errMalformedBearer},
		{name: "empty form token", allow: true, method: "POST", ctype: form, body: "access_token=", wantErr: errMalformedBearer},
		{name: "bad form encoding", allow: true, method: "POST", ctype: form, body: "access_token=%zz", wantErr: errMalformedBearer},
		{name: "no token in form", allow: true, method: "POST", ctype: form, body: "a=1", header: "Bearer abc", want: "abc"},
		{name: "oversized body", allow: true, method: "POST", ctype: form, body: "access_token=abc&pad=" + strings.Repeat("x", maxFormBytes), wantErr: errBodyTooLarge},
		// A name counts decoded, as the handler behind reads it.
		{name: "percent-encoded name", allow: true, method: "POST", ctype: form, body: "access%5Ftoken=abc", want: "abc"},
		{name: "header and percent-encoded name", allow: true, method: "POST", ctype: form, body: "access%5Ftoken=abc", header: "Bearer abc", wantErr: errMultipleTokens},
		{name: "plain and percent-encoded name", allow: true, method: "POST", ctype: form, body: "access_token=abc&%61ccess%5ftoken=def", wantErr: errMultipleTokens},
		{name: "undecodable name", allow: true, method: "POST", ctype: form, body: "access%zztoken=abc", header: "Bearer abc", wantErr: errMalformedBearer},
		{name: "bad escape in another value", allow: true, method: "POST", ctype: form, body: "q=%zz", header: "Bearer abc", want: "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Extractor{AllowFormBody: tt.allow}
			r := httptest.NewRequest(tt.method, "/", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", tt.ctype)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, _, err := e.extract(r, true)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("token = %q, want %q", got, tt.want)
			}
			rest, rerr := io.ReadAll(r.Body)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if string(rest) != tt.body {
				t.Fatalf("body not restored: got %d bytes, want %d", len(rest), len(tt.body))
			}
		})
	}
}

func TestExtractQuery(t *testing.T) {
	tests := []struct {
		name    string
		allow   bool
		target  string
		header  string
		want    string
		wantErr error
	}{
		{name: "query ignored by default", target: "/?access_token=abc", wantErr: errNoCredentials},
		{name: "query ignored by default, header used", target: "/?access_token=abc", header: "Bearer def", want: "def"},
		{name: "query allowed", allow: true, target: "/?access_token=abc", want: "abc"},
		{name: "query and header", allow: true, target: "/?access_token=abc", header: "Bearer abc", wantErr: errMultipleTokens},
		{name: "query twice", allow: true, target: "/?access_token=abc&access_token=def", wantErr: errMultipleTokens},
		{name: "query bad chars", allow: true, target: "/?access_token=a%22b", wantErr: errMalformedBearer},
		// A name counts decoded, as the handler behind reads it.
		{name: "percent-encoded name", allow: true, target: "/?access%5Ftoken=abc", want: "abc"},
		{name: "header and percent-encoded name", allow: true, target: "/?access%5Ftoken=abc", header: "Bearer abc", wantErr: errMultipleTokens},
		{name: "header and lower-case escape", allow: true, target: "/?access%5ftoken=abc", header: "Bearer abc", wantErr: errMultipleTokens},
		{name: "plain and percent-encoded name", allow: true, target: "/?access_token=abc&%61ccess_token=abc", wantErr: errMultipleTokens},
		{name: "semicolon", allow: true, target: "/?a=1;access_token=abc", header: "Bearer abc", wantErr: errMalformedBearer},
		{name: "percent-encoded name ignored by default", target: "/?access%5Ftoken=abc", header: "Bearer def", want: "def"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Extractor{UnsafeAllowQueryToken: tt.allow}
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			got, _, err := e.extract(r, true)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("token = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExtractHeaderAllocs(t *testing.T) {
	var e Extractor
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer abc.def.ghi")
	if n := testing.AllocsPerRun(100, func() { _, _, _ = e.extract(r, true) }); n != 0 {
		t.Fatalf("header extraction allocates %v times", n)
	}
}

func FuzzExtractBearer(f *testing.F) {
	f.Add("Bearer abc.def.ghi", "", "")
	f.Add("bearer   abc==", "access_token=x", "access_token=y")
	f.Add("Bearer", "", "")
	f.Add("Basic dXNlcjpwYXNz", "access_token=abc", "")
	f.Add("Bearer a b", "", "access_token=%zz")
	f.Add("", "access_token=abc&access_token=def", "")
	f.Fuzz(func(t *testing.T, header, body, query string) {
		e := Extractor{AllowFormBody: true, UnsafeAllowQueryToken: true, MaxTokenBytes: 64, MaxBodyBytes: 256}
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			r.Header["Authorization"] = []string{header}
		}
		tok, _, err := e.extract(r, true)
		// The deferred-alphabet path agrees with the full check: same
		// token, or the full check refuses what only the alphabet rules out.
		r2 := httptest.NewRequest(http.MethodGet, "/", nil)
		r2.Header["Authorization"] = r.Header["Authorization"]
		full, _, errFull := (&Extractor{MaxTokenBytes: 64}).extract(r2, true)
		quick, _, errQuick := (&Extractor{MaxTokenBytes: 64}).extract(r2, false)
		switch {
		case errQuick != nil && (errFull == nil || !errors.Is(errFull, errQuick)):
			t.Fatalf("quick path refused (%v) what the full check answered with %v", errQuick, errFull)
		case errQuick == nil && errFull == nil && quick != full:
			t.Fatalf("quick %q, full %q", quick, full)
		case errQuick == nil && errFull != nil && (!errors.Is(errFull, errMalformedBearer) || isB64Token(quick)):
			t.Fatalf("full check refused %q with %v", quick, errFull)
		}
		if err != nil {
			if tok != "" {
				t.Fatal("token returned with an error")
			}
			return
		}
		if len(tok) > 64 || !isB64Token(tok) {
			t.Fatalf("accepted an invalid token %q", tok)
		}
		rest, _ := io.ReadAll(r.Body)
		if string(rest) != body {
			t.Fatal("body not restored")
		}
	})
}
