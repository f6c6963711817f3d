package capacitorweb_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tokenwarden/tokenwarden/keycloaktest"
)

// stepTimeout bounds one browser step (a click and what it starts); it is a
// guard against a hung page, not a speed assertion.
const stepTimeout = 45 * time.Second

// newBrowser starts Debian's Chromium headless with a fresh profile, with
// the flags that keep it off the network beyond this machine (without them
// it stalls on a closed network, looking up Google's hosts).
func newBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	profile := t.TempDir() // removed after the browser stops (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.WindowSize(1000, 1000),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	return bctx
}

// request is one HTTP request of a tab, as Chromium reported it.
type request struct {
	id      network.RequestID
	method  string
	url     string
	headers network.Headers
	post    []byte
	status  int64
	answer  network.Headers // the response's headers
	done    bool
}

// header returns the value of a request header, whatever its case.
func (r request) header(name string) string { return headerOf(r.headers, name) }

// answerHeader returns the value of a response header, whatever its case.
func (r request) answerHeader(name string) string { return headerOf(r.answer, name) }

func headerOf(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// netlog records a tab's requests from the network events.
type netlog struct {
	mu   sync.Mutex
	reqs []*request
	byID map[network.RequestID]*request
}

func newNetlog() *netlog { return &netlog{byID: map[network.RequestID]*request{}} }

// listen runs on the tab's event loop: it only records.
func (n *netlog) listen(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if prev := n.byID[ev.RequestID]; prev != nil && ev.RedirectResponse != nil {
			prev.status, prev.done = ev.RedirectResponse.Status, true
		}
		r := &request{id: ev.RequestID, method: ev.Request.Method, url: ev.Request.URL, headers: ev.Request.Headers}
		for _, e := range ev.Request.PostDataEntries {
			r.post = append(r.post, e.Bytes...)
		}
		n.reqs = append(n.reqs, r)
		n.byID[ev.RequestID] = r
	case *network.EventResponseReceived:
		if r := n.byID[ev.RequestID]; r != nil {
			r.status, r.answer = ev.Response.Status, ev.Response.Headers
		}
	case *network.EventLoadingFinished:
		if r := n.byID[ev.RequestID]; r != nil {
			r.done = true
		}
	case *network.EventLoadingFailed:
		if r := n.byID[ev.RequestID]; r != nil {
			r.done = true
		}
	}
}

// mark returns a position: find looks at the requests after it.
func (n *netlog) mark() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.reqs)
}

// find returns copies of the requests after mark that match.
func (n *netlog) find(mark int, match func(r *request) bool) []request {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []request
	for _, r := range n.reqs[mark:] {
		if match(r) {
			out = append(out, *r)
		}
	}
	return out
}

// recorder keeps a screenshot of every step of a test's tabs and, when the
// test fails, writes them to screenshots/<test>/ (git-ignored).
type recorder struct {
	t     *testing.T
	mu    sync.Mutex
	shots []shot
	tabs  []*tab
	saved bool
}

type shot struct {
	name string
	png  []byte
}

func newRecorder(t *testing.T) *recorder {
	r := &recorder{t: t}
	t.Cleanup(func() {
		if t.Failed() && !r.saved {
			t.Logf("screenshots of each step: %s", r.save())
		}
		if !t.Failed() {
			_ = os.RemoveAll(r.dir()) // a passing run leaves no stale pictures
		}
		for _, tb := range r.tabs {
			tb.cancel()
		}
	})
	return r
}

func (r *recorder) snap(tb *tab, step string) {
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return // a screenshot is a diagnostic: never the failure itself
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shots = append(r.shots, shot{name: fmt.Sprintf("%02d-%s-%s", len(r.shots)+1, tb.name, step), png: png})
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// save takes a last screenshot of every tab, writes them all and returns
// the files' paths.
func (r *recorder) save() string {
	for _, tb := range r.tabs {
		r.snap(tb, "at-failure")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saved = true
	dir := r.dir()
	_ = os.RemoveAll(dir)
	if len(r.shots) > 0 {
		_ = os.MkdirAll(dir, 0o755)
	}
	var files []string
	for _, s := range r.shots {
		p := filepath.Join(dir, unsafeName.ReplaceAllString(s.name, "_")+".png")
		if err := os.WriteFile(p, s.png, 0o644); err == nil {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return "(none could be taken)"
	}
	return strings.Join(files, " ")
}

// dir is where the test's screenshots go: screenshots/ is git-ignored.
func (r *recorder) dir() string {
	return filepath.Join("screenshots", unsafeName.ReplaceAllString(r.t.Name(), "_"))
}

// fatalf fails the test, naming the screenshots of each step.
func (r *recorder) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("%s\nscreenshots of each step: %s", fmt.Sprintf(format, args...), r.save())
}

// check fails the test with the screenshots when err is not nil.
func (r *recorder) check(err error, what string) {
	r.t.Helper()
	if err != nil {
		r.fatalf("%s: %v", what, err)
	}
}

// tab is one browser tab in a browser context of its own: its own cookies
// and storage, so its own Keycloak session.
type tab struct {
	name    string
	ctx     context.Context
	cancel  context.CancelFunc
	net     *netlog
	rec     *recorder
	s       *stack
	variant string
}

func (r *recorder) newTab(browser context.Context, s *stack, name, variant string) *tab {
	r.t.Helper()
	n := newNetlog()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(n.listen))
	tb := &tab{name: name, ctx: ctx, cancel: cancel, net: n, rec: r, s: s, variant: variant}
	r.mu.Lock()
	r.tabs = append(r.tabs, tb)
	r.mu.Unlock()
	// The first Run creates the tab, which lives as long as the context of
	// that call: no timeout on it.
	r.check(chromedp.Do(ctx), name+": open a tab")
	r.check(tb.run(chromedp.Navigate(s.webURL+"/?variant="+variant)), name+": open the app")
	r.check(tb.waitFor(`document.getElementById('status').dataset.state === 'signed-out'`), name+": the app did not start")
	if got := tb.eval(`document.getElementById('variant').textContent`); got != variant {
		r.fatalf("%s: the page uses %q, want %q", name, got, variant)
	}
	r.snap(tb, "started")
	return tb
}

// run runs actions with the step timeout.
func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// setOffline cuts the tab off the network, as a phone without signal is:
// every request fails as fetch does then, and navigator.onLine is false.
// setOffline(false) restores both, which fires the page's online event.
func (tb *tab) setOffline(off bool) {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	rules := []*network.Conditions{} // none: the network as it is
	if off {
		rules = append(rules, &network.Conditions{Offline: true, DownloadThroughput: -1, UploadThroughput: -1})
	}
	_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: rules})
	if err == nil {
		_, err = chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
	}
	tb.rec.check(err, fmt.Sprintf("%s: set the network offline=%v", tb.name, off))
	if got := tb.eval(`String(navigator.onLine)`); got != fmt.Sprint(!off) {
		tb.rec.fatalf("%s: navigator.onLine is %s after setting offline=%v", tb.name, got, off)
	}
}

// eval evaluates a JavaScript expression whose value is a string.
func (tb *tab) eval(expr string) string {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		tb.rec.fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds, across navigations.
func (tb *tab) waitFor(cond string) error {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+cond+`) } catch { return false } })()`))
		if err == nil && ok {
			return nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last error: %v)", cond, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// entry is a line of the page's log of answers.
type entry struct {
	What   string `json:"what"`
	Status int    `json:"status"`
	Text   string `json:"text"`
}

func (tb *tab) entries() []entry {
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	es, err := chromedp.Run(ctx, chromedp.Evaluate[[]entry](
		`[...document.querySelectorAll('#log li')].map(li => ({what: li.dataset.what, status: +li.dataset.status, text: li.textContent}))`))
	if err != nil {
		tb.rec.fatalf("%s: read the page's log: %v", tb.name, err)
	}
	return es
}

// press clicks a button and waits until the page has logged want (in
// order) after what it had logged before, and the status shows state. It
// returns the new entries.
func (tb *tab) press(button, state string, want ...entry) []entry {
	tb.rec.t.Helper()
	before := len(tb.entries())
	tb.rec.check(tb.run(chromedp.Click(chromedp.ID(button))), tb.name+": click #"+button)
	err := tb.waitFor(fmt.Sprintf(`document.querySelectorAll('#log li').length >= %d && document.getElementById('status').dataset.state === %q`,
		before+len(want), state))
	got := tb.entries()[before:]
	tb.rec.snap(tb, button)
	if err != nil {
		tb.rec.fatalf("%s: #%s: %v; the page logged %+v", tb.name, button, err, got)
	}
	if len(got) != len(want) {
		tb.rec.fatalf("%s: #%s: the page logged %+v, want %+v", tb.name, button, got, want)
	}
	for i, w := range want {
		if got[i].What != w.What || got[i].Status != w.Status || !strings.Contains(got[i].Text, w.Text) {
			tb.rec.fatalf("%s: #%s: entry %d is %+v, want %+v", tb.name, button, i, got[i], w)
		}
	}
	return got
}

// login is what the browser showed of one login.
type login struct {
	authorize   url.Values // the query of the authorization request
	exchange    url.Values // the form of the code exchange
	exchangeReq request    // the code exchange, headers included
	tokens      tokenResponse
}

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
}

// login clicks "Log in", types the user's password into Keycloak's own
// login page, and returns what went over the network.
func (tb *tab) login(u keycloaktest.User) login {
	tb.rec.t.Helper()
	mark := tb.net.mark()
	tb.rec.check(tb.run(chromedp.Click(chromedp.ID("login")), chromedp.WaitVisible(chromedp.ID("username"))),
		tb.name+": Keycloak's login page")
	tb.rec.snap(tb, "keycloak-login-page")
	tb.rec.check(tb.run(
		chromedp.SendKeys(chromedp.ID("username"), u.Username),
		chromedp.SendKeys(chromedp.ID("password"), u.Password),
		chromedp.Click(chromedp.ID("kc-login")),
	), tb.name+": submit the login form")
	return tb.landed(mark, u)
}

// loginSSO clicks "Log in" while Keycloak's session cookie is still in the
// tab: Keycloak answers without showing its form.
func (tb *tab) loginSSO(u keycloaktest.User) login {
	tb.rec.t.Helper()
	mark := tb.net.mark()
	tb.rec.check(tb.run(chromedp.Click(chromedp.ID("login"))), tb.name+": log in again")
	return tb.landed(mark, u)
}

// landed waits until the page is back from Keycloak, signed in as u, and
// returns the login's authorization request and code exchange.
func (tb *tab) landed(mark int, u keycloaktest.User) login {
	tb.rec.t.Helper()
	if err := tb.waitFor(`document.getElementById('status')?.dataset.state === 'signed-in'`); err != nil {
		tb.rec.snap(tb, "login")
		tb.rec.fatalf("%s: after the login form: %v", tb.name, err)
	}
	tb.rec.snap(tb, "signed-in")
	if got := tb.eval(`document.getElementById('status').dataset.user`); got != u.Username {
		tb.rec.fatalf("%s: the page says %q is signed in, want %q", tb.name, got, u.Username)
	}

	authURL := tb.s.realm.IssuerURL() + "/protocol/openid-connect/auth?"
	auths := tb.net.find(mark, func(r *request) bool { return r.method == http.MethodGet && strings.HasPrefix(r.url, authURL) })
	if len(auths) != 1 {
		tb.rec.fatalf("%s: %d authorization requests seen, want 1", tb.name, len(auths))
	}
	au, _ := url.Parse(auths[0].url)
	ex := tb.tokenRequest(mark, "authorization_code")
	var l login
	l.authorize, l.exchange, l.exchangeReq = au.Query(), ex.form, ex.req
	if err := json.Unmarshal(ex.body, &l.tokens); err != nil || l.tokens.AccessToken == "" || l.tokens.RefreshToken == "" {
		tb.rec.fatalf("%s: code exchange answer: %v %.200s", tb.name, err, ex.body)
	}
	return l
}

type tokenCall struct {
	req  request
	form url.Values
	body []byte
}

// tokenRequest returns the one POST to the token endpoint with this grant
// after mark, once its answer is in, and the answer's body.
func (tb *tab) tokenRequest(mark int, grant string) tokenCall {
	tb.rec.t.Helper()
	var rs []request
	err := tb.until(func() bool {
		rs = tb.net.find(mark, func(r *request) bool {
			if r.method != http.MethodPost || r.url != tb.s.realm.TokenURL() {
				return false
			}
			f, _ := url.ParseQuery(string(r.post))
			return f.Get("grant_type") == grant
		})
		return len(rs) == 1 && rs[0].done
	})
	if err != nil {
		tb.rec.fatalf("%s: %d %s requests to the token endpoint: %v", tb.name, len(rs), grant, err)
	}
	r := rs[0]
	if r.status != http.StatusOK {
		tb.rec.fatalf("%s: %s grant answered %d", tb.name, grant, r.status)
	}
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: r.id})
	if err != nil {
		tb.rec.fatalf("%s: body of the %s answer: %v", tb.name, grant, err)
	}
	body := res.Body
	if res.Base64encoded {
		if body, err = base64.StdEncoding.AppendDecode(nil, res.Body); err != nil {
			tb.rec.fatalf("%s: body of the %s answer: %v", tb.name, grant, err)
		}
	}
	f, _ := url.ParseQuery(string(r.post))
	return tokenCall{req: r, form: f, body: body}
}

// apiRequests returns the page's calls to the API path after mark (not the
// CORS preflights).
func (tb *tab) apiRequests(mark int, method, path string) []request {
	return tb.net.find(mark, func(r *request) bool { return r.method == method && r.url == tb.s.apiURL+path })
}

// until polls a Go condition (fed by the network events) for a step.
func (tb *tab) until(cond func() bool) error {
	deadline := time.Now().Add(stepTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// s256 is RFC 7636's code challenge of a verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// claimsOf reads a token's payload (for sid and sub) without verifying it.
func claimsOf(t *testing.T, token string) (sid, sub string) {
	t.Helper()
	var c struct {
		Sid string `json:"sid"`
		Sub string `json:"sub"`
	}
	if err := keycloaktest.UnverifiedClaims(token, &c); err != nil {
		t.Fatal(err)
	}
	return c.Sid, c.Sub
}

// bearer returns the token of the request's "Authorization: Bearer", or "".
func bearer(r request) string {
	tok, _ := strings.CutPrefix(r.header("Authorization"), "Bearer ")
	return tok
}

func decode(t *testing.T, rec *recorder, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		rec.fatalf("decode %.200s: %v", body, err)
	}
}
