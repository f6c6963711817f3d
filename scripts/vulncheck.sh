#!/usr/bin/env bash
# Runs govulncheck on every Go module of the repository (the root module and
# the nested ones: adapter/prometheus, examples, bench, reliability, ...).
#
# govulncheck is installed from the Go module proxy at a pinned version
# (GOVULNCHECK_VERSION, default below) into .run/bin (git-ignored).
#
# Vulnerability database: https://vuln.go.dev unless GOVULNDB or
# `scripts/vulncheck.sh -db <url>` names another one: an http(s) mirror or
# a local copy as file:///abs/path (a directory holding index/db.json,
# index/modules.json and ID/*.json, e.g. an unpacked
# https://vuln.go.dev/vulndb.zip).
#
# Outcomes and exit status (also written to .run/vulncheck.result):
#   clean     0  every module scanned, no vulnerability reaches our code
#   findings  3  govulncheck reported a vulnerability: always a failure
#   not-run   0  the database could not be reached, so nothing was scanned;
#             4  when TOKENWARDEN_VULNCHECK=required
#   error     1  govulncheck could not be installed or failed otherwise
#   usage     2  bad arguments
#
# Why "not-run" passes by default: some networks this project is built on
# cannot resolve vuln.go.dev at all, and a CI that fails on every run there
# lands nothing. It is never reported as clean: the script prints a
# "VULNCHECK NOT RUN: database unreachable (<host>)" banner with the exact
# error, and writes "not-run" to .run/vulncheck.result. A CI that can reach
# the database (or has a mirror) sets TOKENWARDEN_VULNCHECK=required so that
# an unreachable database fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

version=${GOVULNCHECK_VERSION:-v1.9.0}
db=${GOVULNDB:-https://vuln.go.dev}
required=${TOKENWARDEN_VULNCHECK:-}
result_file=$root/.run/vulncheck.result
mkdir -p "$root/.run/bin"

finish() { # outcome exit-status
	echo "$1" >"$result_file"
	exit "$2"
}
usage() {
	echo "usage: scripts/vulncheck.sh [-db <url>]   (env GOVULNDB, TOKENWARDEN_VULNCHECK=required)" >&2
	finish usage 2
}
while [ $# -gt 0 ]; do
	case $1 in
	-db | --db)
		[ $# -ge 2 ] || usage
		db=$2
		shift 2
		;;
	-db=* | --db=*)
		db=${1#*=}
		shift
		;;
	*) usage ;;
	esac
done
case $required in '' | required | optional) ;; *)
	echo "vulncheck: TOKENWARDEN_VULNCHECK must be 'required' or unset, got '$required'" >&2
	usage
	;;
esac
db=${db%/}

# Install the pinned scanner unless it is already there.
bin=$root/.run/bin/govulncheck
installed=$("$bin" -version 2>/dev/null || true)
if [[ $installed != *"govulncheck@$version"* ]]; then
	echo "vulncheck: installing golang.org/x/vuln/cmd/govulncheck@$version into .run/bin"
	if ! GOBIN=$root/.run/bin go install "golang.org/x/vuln/cmd/govulncheck@$version"; then
		echo "vulncheck: ERROR: could not install govulncheck@$version from the module proxy ($(go env GOPROXY))" >&2
		finish error 1
	fi
fi

not_run() { # host error
	local host=$1 err=$2
	{
		echo
		echo "=========================================================================="
		echo "VULNCHECK NOT RUN: database unreachable ($host)"
		echo "  database: $db"
		echo "  error:    $err"
		echo "  No module was scanned: this is not a clean result."
		echo "  Use a reachable mirror: GOVULNDB=https://<mirror> or GOVULNDB=file:///<dir>"
		echo "  (unpacked https://vuln.go.dev/vulndb.zip), or scripts/vulncheck.sh -db <url>."
		if [ "$required" = required ]; then
			echo "  TOKENWARDEN_VULNCHECK=required: failing."
		else
			echo "  Set TOKENWARDEN_VULNCHECK=required to make this a failure."
		fi
		echo "=========================================================================="
	} >&2
	if [ "$required" = required ]; then
		finish not-run 4
	fi
	finish not-run 0
}

# Probe the database before scanning, so that an unreachable one is named
# exactly instead of surfacing as a generic govulncheck error.
case $db in
http://* | https://*)
	host=${db#*://}
	host=${host%%/*}
	probe=$db/index/modules.json.gz
	# Without curl the probe is skipped; govulncheck's own fetch error is
	# recognised below.
	if command -v curl >/dev/null &&
		! err=$(curl -sS -f -o /dev/null --connect-timeout 10 --max-time 30 "$probe" 2>&1); then
		not_run "$host" "GET $probe: ${err:-failed}"
	fi
	;;
file://*)
	host=${db#file://}
	if [ ! -d "$host" ]; then
		not_run "$host" "not a directory"
	fi
	;;
*)
	echo "vulncheck: database '$db' is neither http(s):// nor file://" >&2
	usage
	;;
esac

echo "vulncheck: govulncheck@$version, database $db"
status=clean
summary=()
while IFS= read -r mod; do
	dir=$(dirname "$mod")
	echo "== $dir: govulncheck ./..."
	out=$(mktemp)
	rc=0
	(cd "$dir" && "$bin" -db "$db" ./...) 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && grep -qE 'fetching vulnerabilities|no such host|dial tcp|connection refused|i/o timeout' "$out"; then
		err=$(grep -m1 -E 'fetching vulnerabilities|no such host|dial tcp' "$out" || true)
		rm -f "$out"
		not_run "${host:-$db}" "$err"
	fi
	rm -f "$out"
	case $rc in
	0) summary+=("$dir: clean") ;;
	3)
		summary+=("$dir: VULNERABLE")
		status=findings
		;;
	*)
		summary+=("$dir: ERROR (govulncheck exit $rc)")
		[ "$status" = findings ] || status=error
		;;
	esac
done < <(find . -name go.mod -not -path './.cache/*' -not -path './.run/*' -not -path '*/testdata/*' -not -path '*/node_modules/*' -not -path './.git/*' | sort)

echo
printf '  %s\n' "${summary[@]}"
case $status in
clean)
	echo "vulncheck: ok, no known vulnerability reaches the code of any module"
	finish clean 0
	;;
findings)
	echo "vulncheck: FAILED: known vulnerabilities (see above); upgrade with go get <module>@<fixed version>" >&2
	finish findings 3
	;;
*)
	echo "vulncheck: FAILED: govulncheck could not scan every module" >&2
	finish error 1
	;;
esac
