# Targets:
#   make services       start Keycloak and Redis (127.0.0.1, free ports), write .services.env
#   make services-stop  stop them by pid and remove .services.env; also stops the Keycloak that
#                       go test starts and shares when there is no .services.env
#                       (.cache/shared-keycloak-*.env; it stops itself after KEYCLOAKTEST_IDLE, 30m)
#   make test           services (started and stopped again if not already running), Chromium and
#                       the web app's npm packages (installed when missing), the app's type check,
#                       go vet and go test -race for every module in the repository; replays the fuzz seed
#                       corpora (testdata/fuzz) as ordinary tests but does not fuzz, so it stays the
#                       quick command for users. CI (.ci/run) runs make test, make fuzz, make vulncheck.
#   make fuzz           every Fuzz* target of every module, found automatically (scripts/fuzz.sh):
#                       FUZZ_TIME_TOTAL seconds of fuzzing in all (default 240, split evenly) or
#                       FUZZ_TIME seconds each, compile time on top; a table of execs per target;
#                       fails on a crasher and prints its testdata/fuzz path to commit as a seed
#   make vulncheck      govulncheck (pinned, installed into .run/bin) on every module
#                       (scripts/vulncheck.sh), after a self-check that it reports the known
#                       vulnerability of testdata/vulncheck/vulnerable; findings always fail.
#                       Database: GOVULNDB=<url|file:///dir> (default https://vuln.go.dev), else
#                       the offline snapshot ../shared/vulndb; prints which one and its date.
#                       No reachable database: "VULNCHECK NOT RUN", a failure under CI=true
#   make demo           the README's demo command: Keycloak (started if needed; Redis too with
#                       DEMO_REDIS=1), the capacitor-backend example, and a narrated logout scenario
#   make demo-web       the app's web build (examples/capacitor-web: keycloak-js, oidc-client-ts,
#                       oidc-client-ts with DPoP) with the capacitor backend and Keycloak (started
#                       if needed), served on
#                       http://127.0.0.1:8100/ until Ctrl-C, for a person's own browser
#   make bench          tokenwarden against every Go peer in one go test -bench run (bench/run.sh),
#                       then instructions per verification under callgrind (bench/instructions.sh,
#                       when valgrind is installed); writes BENCHMARKS.md and bench/summary.json
#                       (COUNT, BENCHTIME, BENCH, LOAD, INSTRUCTIONS=0 to skip the callgrind rows)
SHELL := /bin/bash

.PHONY: test services services-stop services-status

test:
	@scripts/test.sh

services:
	@go run ./scripts/services up

services-stop:
	@go run ./scripts/services down

services-status:
	@go run ./scripts/services status

.PHONY: bench
bench:
	@bench/run.sh

.PHONY: demo demo-web
demo:
	@scripts/demo.sh

demo-web:
	@scripts/demo-web.sh

.PHONY: fuzz vulncheck
fuzz:
	@scripts/fuzz.sh

vulncheck:
	@scripts/vulncheck.sh
