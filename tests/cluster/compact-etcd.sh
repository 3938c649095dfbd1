#!/usr/bin/env bash
# Compacts the etcd of CLUSTER_DIR (default <repo>/.cluster) up to its current revision, so every older
# resourceVersion is really gone: a watch or list from one then gets 410 Expired, deterministically. Uses
# etcd's JSON gateway on the client URL (keys and revisions are base64/strings there).
set -euo pipefail

# shellcheck source=tests/cluster/lib.sh
. "$(dirname "$0")/lib.sh"

main() {
	load_env || { log "no cluster in $CLUSTER_DIR (run tests/cluster/up.sh)"; exit 1; }
	local rev
	rev=$(curl -sf --max-time 5 -X POST "$ETCD_URL/v3/kv/range" -d '{"key":"AA=="}' | jq -r '.header.revision')
	[ -n "$rev" ] && [ "$rev" != null ] || { log "could not read the etcd revision"; exit 1; }
	curl -sf --max-time 30 -X POST "$ETCD_URL/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null
	echo "cluster: etcd compacted at revision $rev"
}

main "$@"; exit
