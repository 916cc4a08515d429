#!/usr/bin/env bash
# deps.sh — installs every Debian package molcache's build, demo and tests need
# (only what is missing; `apt-get update` first when anything is).
set -euo pipefail
pkgs=(build-essential cmake pkg-config git ca-certificates curl python3 sqlite3
	libgit2-dev libmbedtls-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev libarchive-dev libjansson-dev
	docker.io docker-registry podman busybox-static lighttpd lighttpd-mod-openssl openssl strace systemd file)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps.sh: installing ${missing[*]}" >&2
	[ "$(id -u)" = 0 ] || { echo "deps.sh: need root to install packages (sudo bash $0)" >&2; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
