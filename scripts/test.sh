#!/usr/bin/env bash
# Runs every check of the repository: makes sure Keycloak and Redis are up
# (starting them when .services.env is missing or they do not answer, and
# stopping them again at the end in that case), installs Chromium and the
# web app's npm packages when missing (scripts/web-deps.sh), then `go vet` and
# `go test -race` for every Go module in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mkdir -p .run
go build -o .run/services ./scripts/services

if .run/services status >/dev/null 2>&1; then
	echo "test: using the running services (.services.env)"
else
	echo "test: starting services"
	trap 'echo "test: stopping the services this run started"; "$root/.run/services" down' EXIT
	.run/services up
fi
set -a
# shellcheck disable=SC1091
. ./.services.env
set +a

timeout=${GO_TEST_TIMEOUT:-20m}
status=0

# The browser tests of examples/capacitor-web: Chromium and the app's npm
# packages, then the app's type check.
scripts/web-deps.sh || status=1
if command -v npm >/dev/null; then
	echo "== examples/capacitor-web: npm run check (TypeScript)"
	(cd examples/capacitor-web && npm run --silent check) || status=1
fi
# Every module but the peers copied into bench/third_party, which the bench
# module builds (and govulncheck scans) as its dependencies.
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	echo "== $dir: go vet ./..."
	(cd "$dir" && go vet ./...) || status=1
	echo "== $dir: go test -race ./..."
	(cd "$dir" && go test -race -timeout "$timeout" ./...) || status=1
done < <(find . -name go.mod -not -path './.cache/*' -not -path './.run/*' -not -path '*/testdata/*' -not -path '*/node_modules/*' -not -path '*/third_party/*' -not -path './.git/*' | sort)

if [ "$status" -ne 0 ]; then
	echo "test: FAILED" >&2
else
	echo "test: ok"
fi
exit "$status"
