#!/usr/bin/env bash
# static.sh — one fully static molcache, linked against musl (Debian's
# musl-tools), with every library built here from Debian's source packages:
# zlib, OpenSSL (libcrypto + libssl), SQLite, jansson, http-parser (libgit2's),
# libgit2 (https through OpenSSL, no ssh), libcurl (http, https and unix
# sockets only) and libarchive (tar writing only: no compression, xml, acl,
# xattr or iconv). No prebuilt binary is used.
#
#   bash scripts/static.sh            builds build-static/molcache
#   MC_STATIC_BUILD_DIR=dir bash scripts/static.sh
#
# Downloads and builds are cached under <build>/deps/<name>/ (a stamp file
# names the source version and the options): a rebuild only relinks molcache.
# Compiles run under `nice -n 10` with -j2 (MC_STATIC_JOBS): the machine is shared.
# Needs root only to install missing Debian packages and to add a deb-src
# line for the Debian mirror already configured.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
B=${MC_STATIC_BUILD_DIR:-build-static}
mkdir -p "$B"
B=$(cd "$B" && pwd)
D=$B/deps
P=$D/prefix
JOBS=${MC_STATIC_JOBS:-2}
NICE=(nice -n 10)
log() { printf 'static.sh: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }
t0=$SECONDS

# --- tools: Debian packages only -------------------------------------------
tools=(musl-tools linux-libc-dev dpkg-dev build-essential cmake pkg-config perl tcl xz-utils bzip2 binutils file patch)
missing=()
for p in "${tools[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to install packages (sudo bash $0)"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- source packages: a deb-src line for the Debian mirror in use -----------
if [ -z "$(apt-cache showsrc zlib 2>/dev/null | head -1)" ]; then
	[ "$(id -u)" = 0 ] || die "need root to add a deb-src line (sudo bash $0)"
	list=/etc/apt/sources.list.d/molcache-deb-src
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		# deb822: each Debian stanza again, as deb-src
		sed -n '/^Types:.*\bdeb\b/,$p' /etc/apt/sources.list.d/debian.sources |
			sed 's/^Types:.*/Types: deb-src/' >"$list.sources"
	elif [ -f /etc/apt/sources.list ]; then
		grep -E '^deb [^#]*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' >"$list.list"
	fi
	log "added deb-src for the configured Debian mirror ($list.*)"
	apt-get update -qq
	[ -n "$(apt-cache showsrc zlib 2>/dev/null | head -1)" ] || die "no source packages after adding deb-src"
fi

# fetch NAME: downloads NAME's newest source package that the mirror really
# serves (a security mirror may list a version whose files are not there yet)
# into $D/dl and prints its .dsc path.
fetch() {
	local name=$1 v dsc
	mkdir -p "$D/dl"
	for v in $(apt-cache showsrc "$name" | awk -v n="$name" '/^Package:/{p=($2==n)} p && /^Version:/{print $2}' | sort -ruV); do
		dsc=$(ls "$D/dl/${name}_${v#*:}.dsc" 2>/dev/null || true)
		if [ -z "$dsc" ]; then
			(cd "$D/dl" && apt-get source --download-only -qq "$name=$v" >/dev/null 2>&1) || {
				log "$name $v: not served by the mirror, trying an older version"
				continue
			}
			dsc=$D/dl/${name}_${v#*:}.dsc
		fi
		[ -f "$dsc" ] && { echo "$dsc"; return 0; }
	done
	die "cannot download the source package $name"
}

# unpack NAME DSC: a fresh tree with Debian's patches applied, in $D/NAME/src
unpack() {
	rm -rf "$D/$1/src"
	mkdir -p "$D/$1"
	dpkg-source --no-check -x "$2" "$D/$1/src" >/dev/null
}

# built NAME KEY: true when NAME was built with KEY (source version + options)
built() { [ -f "$D/$1/stamp" ] && [ "$(cat "$D/$1/stamp")" = "$2" ]; }
stamp() { echo "$2" >"$D/$1/stamp"; log "$1 built ($((SECONDS - t0))s so far)"; }

export CC=musl-gcc
export PKG_CONFIG_LIBDIR=$P/lib/pkgconfig PKG_CONFIG_PATH=
# musl-gcc searches no /usr/include: the kernel's uapi headers (OpenSSL needs
# <linux/mman.h>) come from Debian's linux-libc-dev, after musl's own.
K=$D/kheaders
mkdir -p "$K" "$P/lib/pkgconfig" "$P/include"
for h in linux asm-generic "$(gcc -print-multiarch)/asm"; do ln -sfn "/usr/include/$h" "$K/$(basename "$h")"; done
CFLAGS_DEPS="-O2 -fPIC -ffunction-sections -fdata-sections -idirafter $K"
# A dependency is rebuilt when its source version or options change, or the
# source version of one built before it.
chain=""

dep() { # dep NAME SOURCEPKG OPTIONS...: sets DSC, KEY; returns 0 when a build is needed
	local name=$1 pkg=$2
	shift 2
	DSC=$(fetch "$pkg")
	KEY="$(basename "$DSC") $* $CFLAGS_DEPS | $chain"
	chain="$chain $(basename "$DSC")"
	if built "$name" "$KEY"; then
		log "$name: cached ($(basename "$DSC"))"
		return 1
	fi
	log "$name: building from $(basename "$DSC")"
	unpack "$name" "$DSC"
}

# zlib
ZLIB_OPTS="--static"
if dep zlib zlib "$ZLIB_OPTS"; then
	(cd "$D/zlib/src" && CFLAGS="$CFLAGS_DEPS" ./configure $ZLIB_OPTS --prefix="$P" >"$D/zlib/build.log" 2>&1 &&
		"${NICE[@]}" make -j"$JOBS" libz.a >>"$D/zlib/build.log" 2>&1 && make install >>"$D/zlib/build.log" 2>&1) ||
		die "zlib failed: see $D/zlib/build.log"
	stamp zlib "$KEY"
fi

# OpenSSL: static libcrypto and libssl; no engines (they are loaded modules),
# no async (musl has no makecontext). CAs from /etc/ssl as on Debian and Alpine.
case $(uname -m) in
x86_64) OSSL_TARGET=linux-x86_64 ;;
aarch64) OSSL_TARGET=linux-aarch64 ;;
*) OSSL_TARGET=linux-generic64 ;;
esac
OSSL_OPTS="$OSSL_TARGET no-shared no-engine no-async no-tests no-dso no-legacy no-ui-console --openssldir=/etc/ssl"
if dep openssl openssl "$OSSL_OPTS"; then
	# shellcheck disable=SC2086 # a list of options
	(cd "$D/openssl/src" && ./Configure $OSSL_OPTS --prefix="$P" --libdir=lib CFLAGS="$CFLAGS_DEPS" \
		>"$D/openssl/build.log" 2>&1 &&
		"${NICE[@]}" make -j"$JOBS" build_libs >>"$D/openssl/build.log" 2>&1 &&
		make install_dev >>"$D/openssl/build.log" 2>&1) || die "openssl failed: see $D/openssl/build.log"
	stamp openssl "$KEY"
fi

# SQLite: the amalgamation, generated from Debian's source tree (tclsh), then
# one object in a static library.
SQLITE_DEFS="-DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_ENABLE_COLUMN_METADATA -DSQLITE_MAX_VARIABLE_NUMBER=250000"
if dep sqlite3 sqlite3 "$SQLITE_DEFS"; then
	# shellcheck disable=SC2086 # lists of options
	(cd "$D/sqlite3/src" && ./configure --disable-shared --disable-tcl >"$D/sqlite3/build.log" 2>&1 &&
		"${NICE[@]}" make sqlite3.c >>"$D/sqlite3/build.log" 2>&1 &&
		"${NICE[@]}" $CC $CFLAGS_DEPS $SQLITE_DEFS -c sqlite3.c -o sqlite3.o >>"$D/sqlite3/build.log" 2>&1 &&
		ar rcs "$P/lib/libsqlite3.a" sqlite3.o && cp sqlite3.h sqlite3ext.h "$P/include/") ||
		die "sqlite3 failed: see $D/sqlite3/build.log"
	v=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' "$P/include/sqlite3.h")
	printf 'prefix=%s\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n\nName: SQLite\nDescription: SQL database engine\nVersion: %s\nLibs: -L${libdir} -lsqlite3\nLibs.private: -lm -lpthread\nCflags: -I${includedir}\n' \
		"$P" "$v" >"$P/lib/pkgconfig/sqlite3.pc"
	stamp sqlite3 "$KEY"
fi

# jansson (Debian's source is the git tree, no configure: CMake)
JANSSON_OPTS="-DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON"
if dep jansson jansson "$JANSSON_OPTS"; then
	# shellcheck disable=SC2086
	(cmake -S "$D/jansson/src" -B "$D/jansson/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" \
		-DCMAKE_C_FLAGS="$CFLAGS_DEPS" -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_INSTALL_LIBDIR=lib $JANSSON_OPTS \
		>"$D/jansson/build.log" 2>&1 &&
		"${NICE[@]}" cmake --build "$D/jansson/build" -j"$JOBS" >>"$D/jansson/build.log" 2>&1 &&
		cmake --install "$D/jansson/build" >>"$D/jansson/build.log" 2>&1) ||
		die "jansson failed: see $D/jansson/build.log"
	stamp jansson "$KEY"
fi

# http-parser: Debian's libgit2 source has no bundled deps/, so libgit2 uses
# this one (as Debian's own build does).
if dep http-parser http-parser "static"; then
	# shellcheck disable=SC2086 # a list of options
	(cd "$D/http-parser/src" &&
		"${NICE[@]}" $CC $CFLAGS_DEPS -DHTTP_PARSER_STRICT=0 -c http_parser.c -o http_parser.o \
			>"$D/http-parser/build.log" 2>&1 &&
		ar rcs "$P/lib/libhttp_parser.a" http_parser.o && cp http_parser.h "$P/include/") ||
		die "http-parser failed: see $D/http-parser/build.log"
	stamp http-parser "$KEY"
fi

# libgit2: https through OpenSSL, no ssh, no GSSAPI, no NTLM; musl's regcomp.
# Two local changes to libgit2's OpenSSL stream (Debian builds libgit2 on
# mbedTLS, so neither shows there):
# - GIT_OPENSSL_LAZY: OpenSSL is set up at the first TLS stream or CA option,
#   as libgit2 already does for a dlopen'ed OpenSSL, not in git_libgit2_init():
#   there OpenSSL 3's SSL_CTX_new() fetches every cipher (7.9 M of a
#   14.3 M-instruction hit) and the default CA file is parsed, for every
#   remote, file:// and git:// included.
# - a certificate's IP address (subjectAltName IP:) matched when it differed
#   and failed when equal (`!!memcmp`): https://127.0.0.1/ always failed with
#   "hostname does not match certificate" (libgit2 1.5.1, fixed upstream later).
libgit2_patch() {
	patch -s -p1 <<'PATCH'
--- a/src/libgit2/streams/openssl.c
+++ b/src/libgit2/streams/openssl.c
@@ -176,7 +176,7 @@
 
 int git_openssl_stream_global_init(void)
 {
-#ifndef GIT_OPENSSL_DYNAMIC
+#if !defined(GIT_OPENSSL_DYNAMIC) && !defined(GIT_OPENSSL_LAZY)
 	return openssl_init();
 #else
 	if (git_mutex_init(&openssl_mutex) != 0)
@@ -188,14 +188,16 @@
 
 static int openssl_ensure_initialized(void)
 {
-#ifdef GIT_OPENSSL_DYNAMIC
+#if defined(GIT_OPENSSL_DYNAMIC) || defined(GIT_OPENSSL_LAZY)
 	int error = 0;
 
 	if (git_mutex_lock(&openssl_mutex) != 0)
 		return -1;
 
 	if (!openssl_initialized) {
+#ifdef GIT_OPENSSL_DYNAMIC
 		if ((error = git_openssl_stream_dynamic_init()) == 0)
+#endif
 			error = openssl_init();
 
 		openssl_initialized = true;
@@ -379,6 +381,7 @@
 	struct in6_addr addr6;
 	struct in_addr addr4;
 	void *addr = NULL;
+	size_t addrlen = 0;
 	int i = -1, j, error = 0;
 
 	if (SSL_get_verify_result(ssl) != X509_V_OK) {
@@ -390,10 +393,12 @@
 	if (p_inet_pton(AF_INET, host, &addr4)) {
 		type = GEN_IPADD;
 		addr = &addr4;
+		addrlen = sizeof(addr4);
 	} else {
 		if (p_inet_pton(AF_INET6, host, &addr6)) {
 			type = GEN_IPADD;
 			addr = &addr6;
+			addrlen = sizeof(addr6);
 		}
 	}
 
@@ -431,7 +436,7 @@
 					matched = 1;
 			} else if (type == GEN_IPADD) {
 				/* Here name isn't so much a name but a binary representation of the IP */
-				matched = addr && !!memcmp(name, addr, namelen);
+				matched = addr && namelen == addrlen && !memcmp(name, addr, namelen);
 			}
 		}
 	}
PATCH
}
GIT2_OPTS="-DBUILD_SHARED_LIBS=OFF -DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DBUILD_EXAMPLES=OFF -DBUILD_FUZZERS=OFF
 -DUSE_HTTPS=OpenSSL -DUSE_SHA1=CollisionDetection -DUSE_SHA256=HTTPS -DUSE_SSH=OFF -DUSE_GSSAPI=OFF
 -DUSE_NTLMCLIENT=OFF -DUSE_ICONV=OFF -DUSE_HTTP_PARSER=system -DREGEX_BACKEND=regcomp -DUSE_BUNDLED_ZLIB=OFF
 -DENABLE_REPRODUCIBLE_BUILDS=ON"
if dep libgit2 libgit2 "$GIT2_OPTS lazy-openssl ip-san"; then
	(cd "$D/libgit2/src" && libgit2_patch) || die "libgit2: the local patch does not apply"
	# shellcheck disable=SC2086
	(cmake -S "$D/libgit2/src" -B "$D/libgit2/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" \
		-DCMAKE_C_FLAGS="$CFLAGS_DEPS -DGIT_OPENSSL_LAZY" -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_PREFIX_PATH="$P" -DCMAKE_FIND_ROOT_PATH="$P" -DOPENSSL_ROOT_DIR="$P" -DOPENSSL_USE_STATIC_LIBS=TRUE \
		-DZLIB_ROOT="$P" $GIT2_OPTS >"$D/libgit2/build.log" 2>&1 &&
		"${NICE[@]}" cmake --build "$D/libgit2/build" -j"$JOBS" >>"$D/libgit2/build.log" 2>&1 &&
		cmake --install "$D/libgit2/build" >>"$D/libgit2/build.log" 2>&1) ||
		die "libgit2 failed: see $D/libgit2/build.log"
	stamp libgit2 "$KEY"
fi

# libcurl: http, https and unix sockets; every other protocol and optional
# library off. CAs where Debian and Alpine keep them.
CURL_OPTS="--disable-shared --enable-static --with-openssl=$P --with-zlib=$P --enable-http --enable-unix-sockets
 --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet
 --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt
 --disable-manual --disable-docs --without-libidn2 --without-libpsl --without-nghttp2 --without-nghttp3 --without-ngtcp2
 --without-brotli --without-zstd --without-libssh2 --without-libssh --without-librtmp --without-libgsasl
 --without-gssapi --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs"
if dep curl curl "$CURL_OPTS"; then
	# shellcheck disable=SC2086
	(cd "$D/curl/src" && CFLAGS="$CFLAGS_DEPS" CPPFLAGS="-I$P/include" LDFLAGS="-L$P/lib" \
		./configure --prefix="$P" $CURL_OPTS >"$D/curl/build.log" 2>&1 &&
		"${NICE[@]}" make -C lib -j"$JOBS" >>"$D/curl/build.log" 2>&1 &&
		make -C lib install >>"$D/curl/build.log" 2>&1 && make -C include install >>"$D/curl/build.log" 2>&1 &&
		make install-pkgconfigDATA >>"$D/curl/build.log" 2>&1) || die "curl failed: see $D/curl/build.log"
	stamp curl "$KEY"
fi

# libarchive: tar writing only.
ARCHIVE_OPTS="--disable-shared --enable-static --disable-bsdtar --disable-bsdcpio --disable-bsdcat
 --without-zlib --without-bz2lib --without-libb2 --without-iconv --without-lz4 --without-zstd --without-lzma
 --without-cng --without-openssl --without-xml2 --without-expat --without-mbedtls --without-nettle
 --disable-acl --disable-xattr --disable-maintainer-mode"
if dep libarchive libarchive "$ARCHIVE_OPTS"; then
	# shellcheck disable=SC2086
	(cd "$D/libarchive/src" && CFLAGS="$CFLAGS_DEPS" ./configure --prefix="$P" $ARCHIVE_OPTS \
		>"$D/libarchive/build.log" 2>&1 &&
		"${NICE[@]}" make -j"$JOBS" libarchive.la >>"$D/libarchive/build.log" 2>&1 &&
		make install-libLTLIBRARIES install-includeHEADERS install-pkgconfigDATA >>"$D/libarchive/build.log" 2>&1) ||
		die "libarchive failed: see $D/libarchive/build.log"
	stamp libarchive "$KEY"
fi

# --- molcache itself --------------------------------------------------------
log "molcache: configuring and linking ($((SECONDS - t0))s so far)"
cmake -S "$SRC" -B "$B" -DMC_STATIC=ON -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" \
	-DCMAKE_PREFIX_PATH="$P" -DBUILD_TESTING=OFF -DMC_DEFER_CAS=OFF >"$B/molcache-cmake.log" 2>&1 ||
	{ cat "$B/molcache-cmake.log" >&2; die "cmake failed"; }
# the libraries are -l flags to CMake, not files it tracks: always relink
rm -f "$B/molcache"
"${NICE[@]}" cmake --build "$B" -j"$JOBS" --target molcache >"$B/molcache-build.log" 2>&1 ||
	{ tail -40 "$B/molcache-build.log" >&2; die "molcache build failed: see $B/molcache-build.log"; }
strip --strip-all "$B/molcache"
file "$B/molcache" | grep -q 'statically linked' || die "$B/molcache is not statically linked: $(file "$B/molcache")"
log "done in $((SECONDS - t0))s: $B/molcache ($(stat -c %s "$B/molcache") bytes, static)"
echo "$B/molcache"
