#!/usr/bin/env bash
# Builds the deployable Lambda artifacts for the provided.al2023 runtime and checks them:
#   dist/lambda/bootstrap            the stripped x86_64 target-api binary (Lambda runs it as `bootstrap`)
#   dist/lambda/target-api.zip       what infra/ uploads (bootstrap at the zip root, mode 755)
#   dist/lambda/loadgen-worker.zip   what infra/fleet/ uploads: the fleet's worker, built with the
#                                    release profile and stripped (it cold-starts once per worker and
#                                    run, so the lambda profile's whole-program build, minutes for the
#                                    engine and the SDKs it links, buys it little)
#
# The binary is built with this machine's toolchain and linked against its glibc, so the
# script refuses it if it references any symbol version newer than GLIBC_2.34 (Amazon Linux
# 2023's glibc). If a dependency ever needs a newer symbol, build with cargo-lambda and zig
# instead (`pip install cargo-lambda ziglang`, then `cargo lambda build --profile lambda`),
# which link against an older glibc explicitly.
#
# arm64 (Graviton): `TARGET=aarch64-unknown-linux-gnu scripts/build-lambda.sh` on a machine
# whose toolchain has that target (`rustup target add aarch64-unknown-linux-gnu` plus a
# cross linker, or cargo-lambda with zig). The target cannot be downloaded on our CI machines.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${TARGET:-}"
max_glibc="2.34"
out=dist/lambda
mkdir -p "$out"

if [ -n "$target" ]; then
  cargo build --locked --profile lambda -p target-api --bin target-api --target "$target"
  bin="target/$target/lambda/target-api"
else
  cargo build --locked --profile lambda -p target-api --bin target-api
  bin="target/lambda/target-api"
fi

cp "$bin" "$out/bootstrap"
chmod 755 "$out/bootstrap"

# newest_glibc <binary>: the highest GLIBC_x.y version it asks the dynamic linker for, refused
# when none (a static binary) or newer than provided.al2023's; sets `newest`.
newest_glibc() {
  newest=$(readelf --version-info --wide "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n1)
  if [ -z "$newest" ]; then
    echo "build-lambda: found no GLIBC symbol versions in $1; is it dynamically linked?" >&2
    exit 1
  fi
  if [ "$(printf '%s\n%s\n' "$newest" "$max_glibc" | sort -t. -k1,1n -k2,2n | tail -n1)" != "$max_glibc" ]; then
    echo "build-lambda: $1 needs GLIBC_$newest but provided.al2023 has $max_glibc." >&2
    echo "  Build with cargo-lambda + zig instead (see the comment at the top of this script)." >&2
    exit 1
  fi
}
newest_glibc "$out/bootstrap"

# zip_bootstrap <binary> <zip>: the binary as `bootstrap` at the zip's root, mode 755.
zip_bootstrap() {
  rm -f "$2"
  # Python's zipfile keeps the 755 mode and needs no zip package on the machine.
  python3 - "$1" "$2" <<'PY'
import sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
info = zipfile.ZipInfo("bootstrap", date_time=(2026, 1, 1, 0, 0, 0))
info.external_attr = 0o100755 << 16
info.compress_type = zipfile.ZIP_DEFLATED
with open(src, "rb") as f, zipfile.ZipFile(dst, "w") as z:
    z.writestr(info, f.read(), compresslevel=9)
PY
}

zip_bootstrap "$out/bootstrap" "$out/target-api.zip"
size=$(stat -c %s "$out/bootstrap")
zsize=$(stat -c %s "$out/target-api.zip")
echo "build-lambda: $out/bootstrap  $((size / 1024)) KiB (stripped), newest glibc symbol GLIBC_$newest (limit $max_glibc)"
echo "build-lambda: $out/target-api.zip  $((zsize / 1024)) KiB"

# The fleet's worker. With loadgen in the selection the shared graph is the one `cargo loadgen`
# compiled (loadgen/Cargo.toml says how), so this links rather than rebuilds.
if [ -n "$target" ]; then
  cargo build --locked --release -p loadgen -p loadgen-worker --bin loadgen-worker --target "$target"
  worker="target/$target/release/loadgen-worker"
else
  cargo build --locked --release -p loadgen -p loadgen-worker --bin loadgen-worker
  worker="target/release/loadgen-worker"
fi
staged="$(mktemp)"
trap 'rm -f "$staged"' EXIT
# The host's strip reads only its own architecture: for another target, name that target's
# (STRIP=aarch64-linux-gnu-strip).
"${STRIP:-strip}" -o "$staged" "$worker"
newest_glibc "$staged"
zip_bootstrap "$staged" "$out/loadgen-worker.zip"
echo "build-lambda: $out/loadgen-worker.zip  $(( $(stat -c %s "$out/loadgen-worker.zip") / 1024 )) KiB, newest glibc symbol GLIBC_$newest"
