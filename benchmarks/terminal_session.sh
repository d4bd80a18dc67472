#!/usr/bin/env bash
# A scripted terminal session (tmux) of what a person sees: the progress line with its rate during
# a restore into Qdrant Edge, then its optimize(); Ctrl-C ending a `backup --parallel 4` and the
# rerun resuming. Prints the captured screens; benchmarks/README.md keeps one run of it.
#   usage: benchmarks/terminal_session.sh [PYTHON]     (needs tmux)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${1:-${PYTHON:-python3}}
WORK=$(mktemp -d /tmp/qdrant-ops-session.XXXXXX)
SESSION=qdrant-ops-session-$$
trap 'tmux kill-session -t "$SESSION" 2>/dev/null || true; rm -rf "$WORK"' EXIT

echo "== data: Edge stores of 200,000 and 20,000 points (32-d), a backup of the second"
PYTHONPATH="$REPO/src:$REPO/tests" "$PY" - "$WORK" <<'PYEOF'
import sys
from pathlib import Path
import sigint_trials as it
work = Path(sys.argv[1])
it.make_edge_store(work / "big", n=200_000, dims=32, indexing_threshold=0)
it.make_edge_store(work / "small", n=20_000, dims=32, indexing_threshold=1000)  # restored: HNSW built
PYEOF
PYTHONPATH="$REPO/src" "$PY" -m qdrant_ops -q backup --source "edge:$WORK/small" --backup-path "$WORK/sb" --no-verify >/dev/null
# Files of 10,000 rows (default 50,000): an interrupted backup of 4 slices of 50,000 points then
# leaves finished files behind, and the rerun shows what it resumed from.
echo '{"rows_per_file": 10000}' > "$WORK/backup.json"
SMALL_BACKUP=sb/$(basename "$(ls -d "$WORK"/sb/2*)")  # paths below are relative to $WORK

tmux new-session -d -s "$SESSION" -x 150 -y 16 "bash --norc --noprofile"
tmux send-keys -t "$SESSION" "PS1='$ '; cd $WORK; qdrant-ops() { PYTHONPATH=$REPO/src $PY -m qdrant_ops \"\$@\"; }; clear" Enter
sleep 0.5

screen() {  # the visible pane, trailing blank lines dropped
  echo "---- screen at $1 ----"
  tmux capture-pane -p -t "$SESSION" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}
wait_for() {  # wait until the pane shows $1 (a grep -E pattern)
  for _ in $(seq 1 1200); do
    tmux capture-pane -p -t "$SESSION" | grep -Eq "$1" && return 0
    sleep 0.1
  done
  echo "timed out waiting for: $1" >&2
  return 1
}

echo "== 1. restore into Qdrant Edge: the copy, then optimize()"
tmux send-keys -t "$SESSION" "qdrant-ops restore $SMALL_BACKUP --target edge:dst --parallel 4; echo \"exit=\$?\"" Enter
wait_for "restore docs .*points/s"
screen "the copy"
wait_for "optimize docs"
sleep 3
screen "optimize (3 s in)"
wait_for "^exit=[0-9]"
screen "the end"
tmux send-keys -t "$SESSION" "clear" Enter
sleep 0.3

echo "== 2. backup --parallel 4, Ctrl-C, rerun"
BACKUP="qdrant-ops backup --source edge:big --backup-path b --parallel 4 -c backup.json"
tmux send-keys -t "$SESSION" "$BACKUP; echo \"exit=\$? at \$(date +%s.%N)\"" Enter
wait_for "[^0-9]([6-9][0-9]|1[0-9][0-9])[0-9]{3}/200000"  # Ctrl-C once 60,000 points are copied
screen "just before Ctrl-C"
SENT=$(date +%s.%N)
tmux send-keys -t "$SESSION" C-c
wait_for "^exit=130"
screen "after Ctrl-C"
ENDED=$(tmux capture-pane -p -t "$SESSION" | sed -n 's/^exit=130 at //p')
printf 'Ctrl-C (tmux send-keys) to the exit of qdrant-ops: %.2f s\n' "$(echo "$ENDED - $SENT" | bc)"
tmux send-keys -t "$SESSION" "clear" Enter
sleep 0.3
tmux send-keys -t "$SESSION" "$BACKUP; echo \"exit=\$?\"" Enter
wait_for "backup docs .*points/s"
screen "the rerun"
wait_for "^exit=[0-9]"
screen "the rerun's end"
