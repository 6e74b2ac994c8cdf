# Sourced by the benchmark scripts that run one build on the e2e world (callgrind.sh,
# profile.sh): sets `world` (WORLD, default the 3-day world), `FLOWCOST` (built from this
# tree when unset) and `nat` (the world's NAT ENIs as --nat-eni arguments, from its
# truth.json).
world=${WORLD:-target/bench-e2e/d3-t12500-s11/v5}
[ -f "$world/truth.json" ] || { echo "no world at $world: run benches/e2e.sh first" >&2; exit 2; }
if [ -z "${FLOWCOST:-}" ]; then
    cargo build --release -q
    FLOWCOST=target/release/flowcost
fi
nat=()
for e in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["nat_enis"]))' "$world/truth.json"); do
    nat+=(--nat-eni "$e")
done
