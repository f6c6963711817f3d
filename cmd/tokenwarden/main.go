package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes. They are part of the command's interface: scripts branch on them.
const (
	exitOK          = 0 // the operation succeeded; the token is valid or active
	exitRejected    = 1 // the token is invalid, inactive or revoked
	exitUsage       = 2 // bad flags, missing configuration, unreadable secret or token input
	exitUnavailable = 3 // Keycloak (or the JWKS) did not answer, timed out or answered 5xx
	exitRefused     = 4 // Keycloak refused: bad client credentials, missing admin role, unknown user or session
	exitPartial     = 5 // done in Keycloak, but some clients' admin URLs did not acknowledge the push
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	usage   string // the argument synopsis shown after the command name
	help    string // a paragraph shown by "<command> --help"
	// flags registers the command's flags, into o.
	flags func(o *options, fs *flag.FlagSet, a *app)
	// run does the work once the flags are parsed, under the --timeout
	// deadline.
	run func(ctx context.Context, x *invocation) int
}

// invocation is one run of a command: the process environment and the
// parsed options.
type invocation struct {
	*app
	cmd command
	o   options
}

// report prints the error, if any, and returns the exit code.
func (x *invocation) report(err error) int { return x.app.report(x.cmd.name, err) }

// start parses args with c's flags and runs c under the --timeout deadline.
func (a *app) start(ctx context.Context, c command, args []string) int {
	x := &invocation{app: a, cmd: c}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(&x.o, fs, a)
	if code, done := a.parseFlags(c, fs, args); done {
		return code
	}
	ctx, cancel := x.o.withTimeout(ctx)
	defer cancel()
	return c.run(ctx, x)
}

func commands() []command {
	return []command{
		{
			name:    "verify",
			summary: "verify an access token offline against the issuer's JWKS and print its claims",
			usage:   "[flags] < token",
			help: `Verifies the access token locally, as the API does: issuer discovery, the
issuer's JWKS, signature, issuer, audience, expiry and token type. It does not
ask Keycloak whether the token was revoked: use "introspect" for that.
With --explain it prints every check with ok or failed, the value the
configuration expects and the value the token presents, so that a refusal
the API logs can be reproduced and understood. Exit 0 when valid, 1 when
invalid.`,
			flags: verifyFlags,
			run:   runVerify,
		},
		{
			name:    "introspect",
			summary: "ask Keycloak whether a token is active (RFC 7662)",
			usage:   "[flags] < token",
			help: `Sends the token to the issuer's introspection endpoint, authenticated as the
confidential client (--client-id and its secret). Exit 0 when active, 1 when
inactive. Keycloak 26.6.2+ answers inactive unless the client is in the
token's audience.`,
			flags: introspectFlags,
			run:   runIntrospect,
		},
		{
			name:    "revoke",
			summary: "revoke a refresh or access token at Keycloak (RFC 7009)",
			usage:   "[flags] < token",
			help: `Sends the token to the issuer's revocation endpoint, authenticated as the
client the token was issued to. Revoking a refresh token ends that client's
part of the session; revoking an access token blocks its jti at Keycloak
(introspection answers inactive), yet it still passes local verification until
it expires. Exit 0 when Keycloak accepted the revocation.`,
			flags: revokeFlags,
			run:   runRevoke,
		},
		{
			name:    "sessions",
			summary: "list a user's active sessions",
			usage:   "[flags] --user NAME | --user-id ID",
			help: `Lists the user's sessions (id = the sid claim of their tokens), with the
clients that take part in each.`,
			flags: sessionsFlags,
			run:   runSessions,
		},
		{
			name:    "logout-user",
			summary: "end every session of a user and set the user's not-before to now",
			usage:   "[flags] --user NAME | --user-id ID [--session ID]",
			help: `Calls Keycloak's admin logout for the user: Keycloak sets the user's
not-before to now, removes every session and sends a back-channel logout
token (with sid) for each session to every client in it that has a
back-channel logout URL. Tokens already issued then fail introspection.
With --session only that session is deleted (back-channel logout is sent for
it) and the user's not-before is left unchanged.`,
			flags: logoutUserFlags,
			run:   runLogoutUser,
		},
		{
			name:    "push-not-before",
			summary: "realm-wide emergency revocation: not-before = now, pushed to every admin URL",
			usage:   "[flags]",
			help: `Sets the realm's not-before to the current second (every token issued
before it is stale) and pushes it to each client that has an admin URL
(k_push_not_before). Introspection answers inactive for older tokens at once;
an API that verifies tokens locally learns of it only through the push.
Exit 5 when the not-before was set but some admin URLs did not acknowledge.`,
			flags: pushFlags,
			run:   runPushNotBefore,
		},
		{
			name:    "status",
			summary: "check the issuer: discovery, signing keys, advertised endpoints",
			usage:   "[flags]",
			help: `Fetches the issuer's discovery document and JWKS the way the API does and
prints what it found. Exit 0 when both load, 3 when either fails.`,
			flags: statusFlags,
			run:   runStatus,
		},
	}
}

const exitCodesHelp = `Exit codes:
  0  success; the token is valid (verify) or active (introspect)
  1  the token is invalid, inactive or revoked
  2  usage: bad flags, missing configuration, unreadable secret or token
  3  upstream unavailable: Keycloak or the JWKS did not answer, timed out or failed (5xx)
  4  refused by Keycloak: bad client credentials, missing admin role, unknown user or session
  5  partial: not-before set, but some admin URLs did not acknowledge the push
`

const envHelp = `Environment (a flag wins over its variable):
  TOKENWARDEN_ISSUER              issuer URL (e.g. https://sso.example.com/realms/app)
  KEYCLOAK_URL, KEYCLOAK_REALM    Keycloak base URL and realm, when no issuer is given
  TOKENWARDEN_CLIENT_ID           confidential client for introspect, revoke and verify's audience
  TOKENWARDEN_CLIENT_SECRET       its secret (or TOKENWARDEN_CLIENT_SECRET_FILE)
  TOKENWARDEN_AUDIENCE            audience verify requires (default: the client id)
  KEYCLOAK_ADMIN_USER             admin user for sessions, logout-user, push-not-before
  KEYCLOAK_ADMIN_PASSWORD         its password (or KEYCLOAK_ADMIN_PASSWORD_FILE)
  KEYCLOAK_ADMIN_REALM            realm of the admin user (default master)
  TOKENWARDEN_TOKEN               the token, when neither --token-file nor stdin is used
  TOKENWARDEN_CA_FILE             PEM bundle of extra trusted CAs
Secrets and tokens are never accepted as flag values: they would show in ps.
`

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `tokenwarden: operator tool for Keycloak/OIDC token revocation

Usage:
  tokenwarden <command> [flags]
  tokenwarden help <command>

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\n", envHelp, "\n", exitCodesHelp)
}

// run is the whole program: main only wires it to the process.
// getenv is os.Getenv in production and a map lookup in tests.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return newApp(stdin, stdout, stderr, getenv).main(ctx, args)
}

func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		mainUsage(a.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			if c, ok := findCommand(rest[0]); ok {
				return a.start(ctx, c, []string{"--help"})
			}
			fmt.Fprintf(a.stderr, "tokenwarden: unknown command %q\n", rest[0])
			return exitUsage
		}
		mainUsage(a.stdout)
		return exitOK
	}
	c, ok := findCommand(name)
	if !ok {
		fmt.Fprintf(a.stderr, "tokenwarden: unknown command %q\n\n", name)
		mainUsage(a.stderr)
		return exitUsage
	}
	return a.start(ctx, c, rest)
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// parseFlags parses args into fs. It returns done=true with the exit code when
// the command must stop: after --help (0) or a usage error (2).
func (a *app) parseFlags(c command, fs *flag.FlagSet, args []string) (code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if name, ok := secretOnCommandLine(args); ok {
		// Never echo the value: it is what the user must not have typed.
		advice, _ := secretFlagAdvice(name)
		fmt.Fprintf(a.stderr, "tokenwarden %s: %s is not accepted on the command line (it would show in ps); %s\n",
			c.name, name, advice)
		return exitUsage, true
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		commandUsage(a.stdout, c, fs)
		return exitOK, true
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "tokenwarden %s: %v\n", c.name, err)
		fmt.Fprintf(a.stderr, "run 'tokenwarden %s --help' for usage\n", c.name)
		return exitUsage, true
	}
	if fs.NArg() > 0 {
		// The argument is not echoed: it may be a token pasted by mistake.
		fmt.Fprintf(a.stderr, "tokenwarden %s: %d unexpected argument(s); tokens are read from --token-file, stdin or TOKENWARDEN_TOKEN\n", c.name, fs.NArg())
		return exitUsage, true
	}
	return 0, false
}

func commandUsage(w io.Writer, c command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: tokenwarden %s %s\n\n%s.\n\n%s\n\nFlags:\n", c.name, c.usage, upperFirst(c.summary), c.help)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, "\n", envHelp, "\n", exitCodesHelp)
}

func upperFirst(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
