#!/usr/bin/env bash
# Scan a corpus with the Ray engine: first on a Ray instance that dedup starts
# and stops itself, then on a cluster started with `ray start`, the way you
# would point dedup at an existing cluster. Runs offline.
#
#     pip install 'dedup[ray]'        # or: make install-test (the venv has it)
#     bash examples/ray_scan.sh [CORPUS] [OUT]
set -euo pipefail
corpus=${1:-seeds}
out=${2:-out/ray}

# Offline: no usage statistics sent, no dashboard, Ray's files in one folder.
export RAY_USAGE_STATS_ENABLED=0
tmp=${RAY_TMP:-${TMPDIR:-/tmp}/ray-dedup}

# 1. A local instance, started for the scan and stopped after it: --workers
#    sets its CPUs, --object-store-mb its object store (default: 30% of
#    memory), which spills what does not fit to --spill-dir (default:
#    $tmp/spill); give that a disk with room for about 20 times the text
#    (the peak measured on 1 GB of generated pages, benchmarks/RESULTS.md).
dedup scan "$corpus" --out "$out/local" --force --engine ray --workers 2 \
  --object-store-mb 1000 --spill-dir "$tmp/spill"

# 2. An existing cluster. Here a one-node cluster started by hand; on a real
#    cluster run `ray start --head` on one node, `ray start --address HEAD:6379`
#    on the others, with dedup installed (same version) on every node.
ray start --head --num-cpus 2 --include-dashboard=false --temp-dir "$tmp" \
  --object-spilling-directory "$tmp/spill" --disable-usage-stats >/dev/null
trap 'ray stop >/dev/null' EXIT
dedup scan "$corpus" --out "$out/cluster" --force --engine ray --address auto
# From a machine outside the cluster, through Ray Client (port 10001 of the head):
#   dedup scan s3-or-nfs/corpus --out shared/out --engine ray --address ray://HEAD:10001

# Same input, same tables: whichever engine or cluster made them.
cmp "$out/local/spans.parquet" "$out/cluster/spans.parquet" && echo "same tables"
