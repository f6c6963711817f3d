#!/usr/bin/env bash
# make demo: starts Keycloak if it is not running (Redis too with DEMO_REDIS=1),
# builds examples/capacitor-backend and runs the narrated scenario of
# examples/cmd/demo against it. Stops the backend always, and the services
# only when this run started them. Exits non-zero when a step differs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mkdir -p .run
go build -o .run/services ./scripts/services

want=keycloak
if [ "${DEMO_REDIS:-0}" = 1 ]; then
	want=keycloak,redis
fi
if SERVICES=$want .run/services status >/dev/null 2>&1; then
	echo "demo: using the running services (.services.env)"
else
	echo "demo: starting $want (the first start downloads Keycloak; it can take a few minutes)"
	trap 'echo "demo: stopping what this run started"; SERVICES=$want "$root/.run/services" down' EXIT
	SERVICES=$want .run/services up
fi
set -a
# shellcheck disable=SC1091
. ./.services.env
set +a

echo "demo: building the capacitor backend and the scenario"
(cd examples && go build -o ../.run/capacitor-backend ./capacitor-backend && go build -o ../.run/demo ./cmd/demo)
.run/demo -backend .run/capacitor-backend -log .run/demo-backend.log
