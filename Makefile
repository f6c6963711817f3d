# Targets:
#   make services       start Keycloak and Redis (127.0.0.1, free ports), write .services.env
#   make services-stop  stop them by pid and remove .services.env
#   make test           services (started and stopped again if not already running), go vet and
#                       go test -race for every module in the repository
#   make demo           the README's first command: Keycloak (started if needed; Redis too with
#                       DEMO_REDIS=1), the capacitor-backend example, and a narrated logout scenario
#   make bench          tokenwarden against every Go peer in one go test -bench run (bench/run.sh),
#                       writes BENCHMARKS.md and bench/summary.json (COUNT, BENCHTIME, BENCH, LOAD)
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
