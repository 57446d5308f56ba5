# shellcheck shell=bash
# Shared helpers for berth's scripts: section headers, timing, failure.

# section NAME: print a header and remember when the section began.
section() {
	SECTION_NAME=$1
	SECTION_START=$(date +%s)
	printf '\n==== %s ====\n' "$1"
}

# section_done: print how long the current section took.
section_done() {
	printf -- '---- %s: done in %ss\n' "$SECTION_NAME" "$(($(date +%s) - SECTION_START))"
	SUMMARY+=("$(printf '%-44s %5ss' "$SECTION_NAME" "$(($(date +%s) - SECTION_START))")")
}

info() { printf '  %s\n' "$*"; }

die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

SUMMARY=()
