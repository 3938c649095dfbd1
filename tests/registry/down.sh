#!/usr/bin/env bash
# Stops the test registry of REGISTRY_DIR (default <repo>/.registry) and its token server, by their recorded
# PIDs (checked against the recorded start time), never by name; then removes the directory's state.
# KEEP_LOGS=1 keeps logs/. Idempotent: with nothing running it exits 0.
set -euo pipefail

# shellcheck source=tests/registry/lib.sh
. "$(dirname "$0")/lib.sh"

main() {
	if [ ! -f "$REGISTRY_DIR/$REGISTRY_MARKER" ]; then
		rlog "nothing to stop in $REGISTRY_DIR"
		return 0
	fi
	r_stop_all
	r_remove_state "${KEEP_LOGS:-0}"
	rlog "stopped, state removed from $REGISTRY_DIR"
}

main "$@"; exit $?
