#!/usr/bin/env bash
# Runs govulncheck on every Go module of the repository (the root module and
# the nested ones: adapter/prometheus, examples, bench, reliability, ...) and
# fails on any vulnerability that reaches their code.
#
#   scripts/vulncheck.sh [-db <url>] [<module dir>...]
#
# govulncheck is installed from the Go module proxy at a pinned version
# (GOVULNCHECK_VERSION, default below) into .run/bin (git-ignored).
#
# Vulnerability database, the first of these that answers:
#   1. GOVULNDB or -db <url>, default https://vuln.go.dev: an http(s) mirror
#      or a local copy as file:///abs/path (a directory holding
#      index/db.json, index/modules.json and ID/*.json);
#   2. the offline snapshot ../shared/vulndb beside the repository
#      (TOKENWARDEN_VULNDB_SNAPSHOT names another directory), used when 1
#      cannot be reached.
# The output names the database used and its date (the "modified" of its
# index/db.json): a clean scan means "no known vulnerability as of that
# date".
#
# Self-check: before the repository's modules, testdata/vulncheck/vulnerable
# (golang.org/x/net v0.17.0 serving HTTP/2) is scanned, and unless
# govulncheck reports GO-2024-2687 there and exits 3 the step fails: a
# database or scanner that misses a known vulnerability would pass anything.
# Module directories given as arguments are scanned instead of every
# module, without the self-check.
#
# Outcomes and exit status (also written to $VULNCHECK_RESULT, default
# .run/vulncheck.result):
#   clean     0  every module scanned, no vulnerability reaches our code
#   findings  3  govulncheck reported a vulnerability: always a failure
#   not-run   4  no database could be reached and CI=true (or
#                TOKENWARDEN_VULNCHECK=required); outside CI it prints a
#                "VULNCHECK NOT RUN" banner and exits 0, never "clean"
#   error     1  govulncheck could not be installed, the self-check failed,
#                or govulncheck failed otherwise
#   usage     2  bad arguments
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

version=${GOVULNCHECK_VERSION:-v1.9.0}
primary=${GOVULNDB:-https://vuln.go.dev}
snapshot=${TOKENWARDEN_VULNDB_SNAPSHOT:-$root/../shared/vulndb}
required=${TOKENWARDEN_VULNCHECK:-}
[ "${CI:-}" = true ] && required=required
result_file=${VULNCHECK_RESULT:-$root/.run/vulncheck.result}
canary=testdata/vulncheck/vulnerable
canary_id=GO-2024-2687
mkdir -p "$root/.run/bin" "$(dirname "$result_file")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

finish() { # outcome exit-status
	echo "$1" >"$result_file"
	exit "$2"
}
usage() {
	echo "usage: scripts/vulncheck.sh [-db <url>] [<module dir>...]   (env GOVULNDB, TOKENWARDEN_VULNDB_SNAPSHOT, TOKENWARDEN_VULNCHECK=required)" >&2
	finish usage 2
}
dirs=()
while [ $# -gt 0 ]; do
	case $1 in
	-db | --db)
		[ $# -ge 2 ] || usage
		primary=$2
		shift 2
		;;
	-db=* | --db=*)
		primary=${1#*=}
		shift
		;;
	-*) usage ;;
	*)
		[ -f "$1/go.mod" ] || {
			echo "vulncheck: $1 holds no go.mod" >&2
			usage
		}
		dirs+=("$1")
		shift
		;;
	esac
done
case $required in '' | required | optional) ;; *)
	echo "vulncheck: TOKENWARDEN_VULNCHECK must be 'required' or unset, got '$required'" >&2
	usage
	;;
esac
primary=${primary%/}

# db_modified URL: prints the "modified" date of the database's
# index/db.json, or fails with the reason on stderr.
db_modified() {
	local db=$1 json
	case $db in
	file://*)
		local dir=${db#file://}
		if [ ! -f "$dir/index/db.json" ]; then
			echo "$dir/index/db.json: no such file" >&2
			return 1
		fi
		json=$(cat "$dir/index/db.json")
		;;
	http://* | https://*)
		if ! command -v curl >/dev/null; then
			echo "curl not found: cannot probe $db" >&2
			return 1
		fi
		json=$(curl -sS -f --connect-timeout 10 --max-time 30 "$db/index/db.json" 2>&1) || {
			echo "GET $db/index/db.json: $json" >&2
			return 1
		}
		;;
	*)
		echo "'$db' is neither http(s):// nor file://" >&2
		return 1
		;;
	esac
	local m
	m=$(printf '%s' "$json" | sed -n 's/.*"modified"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
	if [ -z "$m" ]; then
		echo "$db/index/db.json has no \"modified\" date" >&2
		return 1
	fi
	echo "$m"
}

not_run() { # reason
	{
		echo
		echo "=========================================================================="
		echo "VULNCHECK NOT RUN: no vulnerability database could be reached"
		printf '  %s\n' "$@"
		echo "  No module was scanned: this is not a clean result."
		echo "  Point GOVULNDB (or -db) at a reachable mirror or a file:///<dir> copy,"
		echo "  or put the offline snapshot at $snapshot."
		if [ "$required" = required ]; then
			echo "  CI=true or TOKENWARDEN_VULNCHECK=required: failing."
		else
			echo "  Outside CI this does not fail; CI=true or TOKENWARDEN_VULNCHECK=required makes it fail."
		fi
		echo "=========================================================================="
	} >&2
	if [ "$required" = required ]; then
		finish not-run 4
	fi
	finish not-run 0
}

# Pick the database.
db=$primary
if ! modified=$(db_modified "$db" 2>"$tmp/err"); then
	why="$db unreachable: $(cat "$tmp/err")"
	snap_db=""
	if [ -d "$snapshot" ]; then
		snap_db=file://$(cd "$snapshot" && pwd)
	fi
	if [ -z "$snap_db" ] || [ "$snap_db" = "$db" ]; then
		not_run "$why" "offline snapshot: $snapshot not found"
	fi
	if ! modified=$(db_modified "$snap_db" 2>"$tmp/err"); then
		not_run "$why" "offline snapshot unusable: $(cat "$tmp/err")"
	fi
	echo "vulncheck: $why"
	echo "vulncheck: falling back to the offline snapshot (shared/vulndb)"
	db=$snap_db
fi
dbline="database $db, modified $modified"
echo "vulncheck: $dbline"

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
echo "vulncheck: govulncheck@$version"

# scan DIR OUT: govulncheck on every package of the module in DIR, output
# to the terminal and to OUT; returns govulncheck's exit status.
scan() {
	local rc=0
	(cd "$1" && "$bin" -db "$db" ./...) 2>&1 | tee "$2" || rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ] &&
		grep -qE 'fetching vulnerabilities|no such host|dial tcp|connection refused|i/o timeout' "$2"; then
		not_run "$db failed during the scan: $(grep -m1 -E 'fetching vulnerabilities|no such host|dial tcp|connection refused|i/o timeout' "$2")"
	fi
	return "$rc"
}

out=$tmp/out
if [ "${#dirs[@]}" -eq 0 ]; then
	echo "== self-check: $canary must report $canary_id"
	rc=0
	scan "$canary" "$out" >/dev/null || rc=$?
	if [ "$rc" -ne 3 ] || ! grep -q "$canary_id" "$out"; then
		cat "$out"
		echo "vulncheck: FAILED self-check: govulncheck exit $rc on $canary, want 3 and $canary_id; the $dbline does not find a known vulnerability" >&2
		finish error 1
	fi
	echo "self-check: ok ($canary_id found, exit 3)"
	# Every module but the peers copied into bench/third_party, which the bench
	# module builds (and govulncheck scans) as its dependencies.
	while IFS= read -r mod; do
		dirs+=("$(dirname "$mod")")
	done < <(find . -name go.mod -not -path './.cache/*' -not -path './.run/*' -not -path '*/testdata/*' -not -path '*/node_modules/*' -not -path '*/third_party/*' -not -path './.git/*' | sort)
fi

status=clean
summary=()
for dir in "${dirs[@]}"; do
	echo "== $dir: govulncheck ./..."
	rc=0
	scan "$dir" "$out" || rc=$?
	case $rc in
	0) summary+=("$dir: clean") ;;
	3)
		summary+=("$dir: VULNERABLE ($(grep -oE 'GO-[0-9]{4}-[0-9]+' "$out" | sort -u | tr '\n' ' ' | sed 's/ $//'))")
		status=findings
		;;
	*)
		summary+=("$dir: ERROR (govulncheck exit $rc)")
		[ "$status" = findings ] || status=error
		;;
	esac
done

echo
printf '  %s\n' "${summary[@]}"
case $status in
clean)
	echo "vulncheck: ok: no known vulnerability reaches the code of ${#dirs[@]} module(s) ($dbline)"
	finish clean 0
	;;
findings)
	echo "vulncheck: FAILED: known vulnerabilities (see above; $dbline); upgrade with go get <module>@<fixed version>" >&2
	finish findings 3
	;;
*)
	echo "vulncheck: FAILED: govulncheck could not scan every module ($dbline)" >&2
	finish error 1
	;;
esac
