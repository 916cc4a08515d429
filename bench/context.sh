#!/usr/bin/env bash
# context.sh — streams a generated 1 GiB build context (16 × 64 MiB files and
# 10 000 small files) through cache/context with 64 KiB reads and prints
# bytes, seconds, MiB/s and peak RSS; then a `cat` of the same files for the
# disk-speed comparison. Usage: bash bench/context.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-bench}
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$B" --target context_stream -j"$(nproc)" >/dev/null
case $B in /*) bin=$B/context_stream ;; *) bin=$PWD/$B/context_stream ;; esac
T=$(mktemp -d /tmp/mc-ctxbench.XXXXXX); trap 'rm -rf "$T"' EXIT
echo 'FROM scratch' > "$T/Dockerfile"
for i in $(seq 1 16); do head -c $((64 << 20)) /dev/urandom > "$T/big$i.bin"; done
mkdir -p "$T/small"; for d in $(seq 1 100); do mkdir "$T/small/$d"; for f in $(seq 1 100); do echo "$d $f" > "$T/small/$d/$f.txt"; done; done
sync
echo "warm page cache:"; "$bin" "$T"
if [ -w /proc/sys/vm/drop_caches ]; then
	sync; echo 3 > /proc/sys/vm/drop_caches; echo "cold page cache:"; "$bin" "$T"
	sync; echo 3 > /proc/sys/vm/drop_caches; s=$(date +%s.%N); find "$T" -type f -exec cat {} + >/dev/null
	echo "cat of every file, cold: $(python3 -c "print(f'{$(date +%s.%N) - $s:.2f}')") s"
fi
