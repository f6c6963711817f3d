#!/usr/bin/env bash
# Installs what the web app (examples/capacitor-web) needs, when missing:
#   - Debian's chromium, for its browser tests (apt-get, as root or through
#     sudo -n), unless --no-browser (make demo-web: the person brings one) or
#     TOKENWARDEN_CHROMIUM names a browser;
#   - the app's npm packages, pinned by package-lock.json (npm ci, again
#     whenever package.json or the lock file changes).
# Exits non-zero when an install fails; a missing tool is reported and left
# to the tests, which skip without it, or fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."
web=examples/capacitor-web

if [ "${1:-}" != --no-browser ] && [ -z "${TOKENWARDEN_CHROMIUM:-}" ] &&
	! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
	if ! command -v apt-get >/dev/null; then
		echo "web: no chromium and no apt-get: install Chromium or set TOKENWARDEN_CHROMIUM" >&2
	else
		sudo=()
		if [ "$(id -u)" != 0 ]; then
			sudo=(sudo -n)
		fi
		echo "web: chromium missing, installing Debian's chromium with apt-get"
		t0=$SECONDS
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null
		echo "web: $(chromium --version) installed in $((SECONDS - t0)) s"
	fi
fi

if ! command -v npm >/dev/null; then
	echo "web: npm missing: install Node.js and npm (the browser tests need the app's build)" >&2
	exit 0
fi
stamp=$web/node_modules/.tokenwarden-lock.sha256
want=$(cat "$web/package.json" "$web/package-lock.json" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
	echo "web: npm ci in $web"
	(cd "$web" && npm ci --no-audit --no-fund)
	echo "$want" >"$stamp"
fi
