# lib.sh — shared setup of the benches that need a build and an engine. Source
# it from the repository root, then call bench_setup BUILD_DIR [CMAKE_OPTION…]:
# it builds molcache (Release, no tests) into BUILD_DIR and sets MC to it, makes
# a work directory W, starts the test engine fixture there (DOCKER_HOST,
# MC_BASE_IMAGE, … exported) and stops it, a git daemon whose pid is in $gd,
# and W itself on exit.
bench_setup() {
	local b=$1
	shift
	cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF "$@" >/dev/null
	cmake --build "$b" -j"$(nproc)" >/dev/null
	case $b in /*) MC=$b/molcache ;; *) MC=$PWD/$b/molcache ;; esac
	W=$(mktemp -d /tmp/mc-bench.XXXXXX)
	export MC_ENGINE_DIR=$W/engine
	trap bench_cleanup EXIT
	bash tests/integration/engine.sh start >/dev/null 2>&1
	set -a; . "$MC_ENGINE_DIR/env"; set +a
}

bench_cleanup() {
	kill "${gd:-}" 2>/dev/null || true
	bash tests/integration/engine.sh stop >/dev/null 2>&1 || true
	rm -rf "$W"
}
