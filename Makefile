# Targets:
#   make services       start Keycloak and Redis (127.0.0.1, free ports), write .services.env
#   make services-stop  stop them by pid and remove .services.env
#   make test           services (started and stopped again if not already running), go vet and
#                       go test -race for every module in the repository; replays the fuzz seed
#                       corpora (testdata/fuzz) as ordinary tests but does not fuzz, so it stays the
#                       quick command for users. CI (.ci/run) runs make test, make fuzz, make vulncheck.
#   make fuzz           every Fuzz* target of every module, found automatically (scripts/fuzz.sh):
#                       FUZZ_TIME_TOTAL seconds of fuzzing in all (default 240, split evenly) or
#                       FUZZ_TIME seconds each, compile time on top; a table of execs per target;
#                       fails on a crasher and prints its testdata/fuzz path to commit as a seed
#   make vulncheck      govulncheck (pinned, installed into .run/bin) on every module
#                       (scripts/vulncheck.sh); GOVULNDB=<url|file:///dir> picks the database. An
#                       unreachable database prints "VULNCHECK NOT RUN" and passes unless
#                       TOKENWARDEN_VULNCHECK=required; findings always fail
#   make demo           the README's first command: Keycloak (started if needed; Redis too with
#                       DEMO_REDIS=1), the capacitor-backend example, and a narrated logout scenario
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

.PHONY: demo
demo:
	@scripts/demo.sh

.PHONY: fuzz vulncheck
fuzz:
	@scripts/fuzz.sh

vulncheck:
	@scripts/vulncheck.sh
