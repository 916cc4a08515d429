#!/usr/bin/env bash
# test.sh — the whole test suite: installs dependencies, builds with
# -Wall -Wextra -Werror under AddressSanitizer + UndefinedBehaviorSanitizer,
# and runs every CTest test (unit, integration, fault, fuzz replay) against a
# real private dockerd, real git servers and a real registry on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
B=${MC_BUILD_DIR:-build-test}
# the static musl binary (its libraries built from Debian's source packages,
# cached under build-static/): integration.it_static runs it in a libc-less
# container, so the suite fails, never skips, without it
if [ -z "${MC_STATIC_BIN:-}" ]; then
	MC_STATIC_BIN=$(bash scripts/static.sh | tail -n 1)
fi
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Debug -DMC_SANITIZE=ON -DMC_WERROR=ON -DMC_STATIC_BIN="${MC_STATIC_BIN:-}" >/dev/null
cmake --build "$B" -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir "$B" --output-on-failure --timeout 900 "$@"
