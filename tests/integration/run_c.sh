#!/usr/bin/env bash
# run_c.sh BINARY — runs a C integration test with the engine fixture's environment
# ($MC_ENGINE_DIR/env: DOCKER_HOST, MC_REGISTRY, MC_BASE_IMAGE) exported.
set -euo pipefail

[[ $# -ge 1 ]] || { echo "usage: run_c.sh BINARY [ARGS...]" >&2; exit 2; }
D=${MC_ENGINE_DIR:-/tmp/mc-engine}
if [[ ! -f $D/env ]]; then
	echo "run_c.sh: $D/env missing: the engine fixture is not running (tests/integration/engine.sh start)" >&2
	exit 1
fi
set -a
# shellcheck source=/dev/null
. "$D/env"
set +a
exec "$@"
