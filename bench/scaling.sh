#!/usr/bin/env bash
# Scaling runs: the ingest and OTLP benches with the server on a few cores and
# on many, the load generator on cores of its own, then one compact table.
#
#   bench/scaling.sh                                   # the checkout this script is in
#   PYTHONPATH=/tmp/old/src bench/scaling.sh           # another commit's code (git worktree)
#   PYTHON=/path/to/python bench/scaling.sh            # another interpreter (default: .venv)
#
# The benches start `python -m heliograph serve`, so PYTHONPATH picks the
# server code; the bench scripts themselves are always this checkout's.
#
# Layout (defaults by the number of usable cpus, every one overridable):
#   >= 16 cpus: server on 0-1 (SMALL_CPUS) vs 0-11 (BIG_CPUS), generator on
#               12-15 (CLIENT_CPUS) in CLIENTS=4 processes.
#   fewer:      server on cpu 0 vs all cpus, generator on the last cpu in 1
#               process (so with many server cores it shares one with them).
# WORKERS=auto (default) passes --workers equal to the server's core count
# when `heliograph serve --help` offers it; WORKERS=no never passes it.
# Sizes: REQUESTS (sentry envelopes, default 20000), OTLP_REQUESTS (of 50
# spans each, default 1600), CONCURRENCY (32). RUNS (default 1) repeats each
# configuration. Results JSON and logs go to OUT (default: a new temp dir).
# About 2-4 minutes on a 16-core machine with the defaults.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$root/.venv/bin/python" ]]; then PYTHON="$root/.venv/bin/python"; else PYTHON=python3; fi
fi
command -v taskset >/dev/null || { echo "scaling.sh: taskset is needed (util-linux)" >&2; exit 2; }

ncpu="$("$PYTHON" -c 'import os; print(len(os.sched_getaffinity(0)))')"
last=$((ncpu - 1))
if ((ncpu >= 16)); then
    SMALL_CPUS="${SMALL_CPUS:-0-1}"
    BIG_CPUS="${BIG_CPUS:-0-11}"
    CLIENT_CPUS="${CLIENT_CPUS:-12-$last}"
    CLIENTS="${CLIENTS:-4}"
else
    SMALL_CPUS="${SMALL_CPUS:-0}"
    BIG_CPUS="${BIG_CPUS:-0-$last}"
    CLIENT_CPUS="${CLIENT_CPUS:-$last}"
    CLIENTS="${CLIENTS:-1}"
fi
REQUESTS="${REQUESTS:-20000}"
OTLP_REQUESTS="${OTLP_REQUESTS:-1600}"
CONCURRENCY="${CONCURRENCY:-32}"
RUNS="${RUNS:-1}"
WORKERS="${WORKERS:-auto}"
OUT="${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/heliograph-scaling.XXXXXX")}"
mkdir -p "$OUT"

count_cpus() {  # "0-1" -> 2, "0,2,4-6" -> 5
    "$PYTHON" -c 'import sys; print(sum(int(b) - int(a) + 1 for a, _, b in
        (p.partition("-") if "-" in p else (p, "", p) for p in sys.argv[1].split(","))))' "$1"
}

if [[ "$WORKERS" == auto ]]; then
    if NO_COLOR=1 COLUMNS=200 "$PYTHON" -m heliograph serve --help 2>/dev/null | grep -q -- '--workers'; then
        WORKERS=yes
    else
        WORKERS=no
    fi
fi

code="$("$PYTHON" -c 'import heliograph, os; print(os.path.dirname(heliograph.__file__))')"
commit="$(git -C "$code" describe --always --dirty 2>/dev/null || echo '?')"
echo "heliograph code: $code (commit $commit), python: $PYTHON"
echo "usable cpus: $ncpu; server on $SMALL_CPUS vs $BIG_CPUS; generator: $CLIENTS process(es) on $CLIENT_CPUS"
echo "--workers: $WORKERS; sizes: $REQUESTS envelopes, $OTLP_REQUESTS OTLP requests x 50 spans; results in $OUT"

for run in $(seq 1 "$RUNS"); do
    for cpus in "$SMALL_CPUS" "$BIG_CPUS"; do
        cores="$(count_cpus "$cpus")"
        flags=(--server-cpus "$cpus" --client-cpus "$CLIENT_CPUS" --clients "$CLIENTS"
               --concurrency "$CONCURRENCY")
        [[ "$WORKERS" == yes ]] && flags+=(--workers "$cores")
        tag="c${cores}-r${run}"
        echo
        echo "== ingest, server on cpus $cpus (run $run)"
        "$PYTHON" "$here/ingest.py" --requests "$REQUESTS" "${flags[@]}" \
            --results "$OUT/ingest-$tag.json" 2>&1 | tee "$OUT/ingest-$tag.log"
        echo "== OTLP, server on cpus $cpus (run $run)"
        "$PYTHON" "$here/analytics.py" --skip batch --skip dashboard \
            --otlp-requests "$OTLP_REQUESTS" "${flags[@]}" \
            --results "$OUT/otlp-$tag.json" 2>&1 | tee "$OUT/otlp-$tag.log"
    done
done

echo
"$PYTHON" - "$OUT" "$commit" <<'EOF'
import json
import sys
from pathlib import Path

out, commit = Path(sys.argv[1]), sys.argv[2]
rows = []
for path in sorted(out.glob("ingest-*.json")):
    ingest = json.loads(path.read_text())
    otlp_path = out / path.name.replace("ingest-", "otlp-")
    otlp = json.loads(otlp_path.read_text()) if otlp_path.exists() else {}
    setup = ingest["setup"]
    rows.append(
        {
            "cores": setup["server_cores"],
            "cpus": setup["server_cpus"],
            "workers": "-" if setup["workers"] is None else setup["workers"],
            "env/s": ingest["accepted_per_s"],
            "p99 ms": ingest["ack_p99_ms"],
            "digested/s": ingest["digested_per_s"],
            "RSS MB": ingest["peak_rss_mb"],
            "procs": ingest["server_processes"],
            "spans acc/s": otlp.get("otlp_spans_accepted_per_s", "-"),
            "spans pers/s": otlp.get("otlp_spans_persisted_per_s", "-"),
            "OTLP RSS MB": otlp.get("otlp_peak_rss_mb", "-"),
        }
    )
rows.sort(key=lambda row: row["cores"])
columns = list(rows[0])
widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
print(f"commit {commit}; sentry envelopes (accepted, ack p99, digested end to end), "
      "OTLP spans; RSS = sum of peak RSS over the server's processes")
print("  ".join(c.rjust(widths[c]) for c in columns))
for row in rows:
    print("  ".join(str(row[c]).rjust(widths[c]) for c in columns))


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else None


small, big = rows[0]["cores"], rows[-1]["cores"]
if big != small:
    ratios = []
    for name in ("env/s", "digested/s", "spans acc/s", "spans pers/s"):
        low = median([r[name] for r in rows if r["cores"] == small and r[name] != "-"])
        high = median([r[name] for r in rows if r["cores"] == big and r[name] != "-"])
        if low and high:
            ratios.append(f"{name} x{high / low:.2f}")
    print(f"{big} vs {small} server cores (medians): " + ", ".join(ratios))
EOF
