#!/usr/bin/env bash
# Memory stays flat: loadgen's RSS after 10 minutes at 2,000 req/s against a loopback
# responder, compared with its RSS after 1 minute (goal: within 20%).
#
# Usage: bench/loadgen-memory.sh [minutes] [rate]     (defaults 10 and 2000; loopback only)
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
rate="${2:-2000}"
cargo build --release --quiet -p loadgen --bin loadgen --example responder
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

target/release/examples/responder > "$work/url" &
for _ in $(seq 50); do [ -s "$work/url" ] && break; sleep 0.1; done
url=$(head -n1 "$work/url")

cat > "$work/memory.toml" <<TOML
name = "memory"
description = "constant ${rate} req/s for ${minutes} minutes"
[[phase]]
name = "constant"
duration = "${minutes}m"
rate = ${rate}
[[request]]
name = "hit"
path = "/"
TOML

target/release/loadgen run "$work/memory.toml" --target "$url" --out "$work/out" --quiet &
pid=$!
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
sleep 60
one=$(rss)
echo "RSS after 1 min:  ${one} KiB"
sleep $(( minutes * 60 - 60 - 5 ))
last=$(rss)
echo "RSS after ${minutes} min: ${last} KiB (5 s before the end)"
wait "$pid" || true
python3 - "$one" "$last" "$work/out/results.json" <<'PY'
import json, sys
one, last = int(sys.argv[1]), int(sys.argv[2])
r = json.load(open(sys.argv[3]))
print(f"ratio {last / one:.3f} (goal <= 1.20); achieved {r['achieved_rate']:.1f} req/s, "
      f"{r['totals']['requests']} requests, lag p99 {r['generator']['lag_p99_ms']:.2f} ms, saturated {r['generator']['saturated']}")
PY
