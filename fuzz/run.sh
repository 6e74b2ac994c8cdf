#!/usr/bin/env bash
# Fuzz the decoders: `bash fuzz/run.sh [target] [seconds]` (default: decode_any, 1800 s;
# targets: decode_any, parquet, json, partial, bill, documents).
# Needs cargo-fuzz (`cargo install cargo-fuzz`); runs on the stable toolchain through
# RUSTC_BOOTSTRAP. Not part of CI. Crashes land in fuzz/artifacts/<target>/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
target="${1:-decode_any}"
secs="${2:-1800}"
[ -d "$here/corpus/$target" ] || bash "$here/seed.sh"
cd "$here"
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- \
  -max_total_time="$secs" -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1
