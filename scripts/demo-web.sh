#!/usr/bin/env bash
# make demo-web: the app's web build (examples/capacitor-web) against the
# capacitor backend and Keycloak, for a person to click through in their own
# browser. Starts Keycloak if it is not running (and stops it at the end in
# that case), installs the app's npm packages when missing, builds the app,
# and runs examples/cmd/demo-web, which prints the URL (http://127.0.0.1:8100/
# by default; DEMO_WEB_ADDR and DEMO_API_ADDR move the app and the API) and
# serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

mkdir -p .run
go build -o .run/services ./scripts/services
if SERVICES=keycloak .run/services status >/dev/null 2>&1; then
	echo "demo-web: using the running Keycloak (.services.env)"
else
	echo "demo-web: starting Keycloak (the first start downloads it; it can take a few minutes)"
	trap 'echo "demo-web: stopping the Keycloak this run started"; SERVICES=keycloak "$root/.run/services" down' EXIT
	SERVICES=keycloak .run/services up
fi
set -a
# shellcheck disable=SC1091
. ./.services.env
set +a

scripts/web-deps.sh --no-browser
echo "demo-web: building the app and the demo"
(cd examples/capacitor-web && npm run --silent build)
(cd examples && go build -o ../.run/demo-web ./cmd/demo-web)
.run/demo-web -dist examples/capacitor-web/dist "$@"
