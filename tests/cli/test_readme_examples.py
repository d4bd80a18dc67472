"""Every ``qdrant-ops`` line of the README's sh/bash blocks runs, against embedded stores.

Server addresses become local-mode stores; each line's exit code is the one the README promises
for that situation. Lines that name something only a real deployment has (a run id, a snapshot on
a server, ``make demo``'s data) must still parse: they end in a one-line refusal (exit 2), never a
usage error. A line that needs what no test machine has (an object store, a named database
server) is listed in ``SKIP`` with its reason. A README line in neither fails the test, so README
and test move together.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datagen import make_collection
from legacy_fixtures import git, make_repo
from qdrant_ops.cli import app
from qdrant_ops.endpoints.open import close_all

README = Path(__file__).resolve().parents[2] / "README.md"
runner = CliRunner()

SERVERS = {
    "http://localhost:6333": "./src-store",
    "http://old:6333": "./src-store",
    "http://qdrant:6333": "./src-store",
    "http://node2:6333": "./src-store",
    "http://new:6333": "./new-store",
}

# README line (its comment cut) -> exit code here. 2 marks a placeholder only a deployment has.
EXPECTED: dict[str, int] = {
    "qdrant-ops runs --backup-path demo-data/runbook": 0,
    "qdrant-ops rollback RUN_ID --backup-path demo-data/runbook": 2,
    "qdrant-ops run --runbook demo-data/runbook.yaml --dry-run": 2,
    "qdrant-ops run --runbook demo-data/runbook.yaml --yes": 2,
    "qdrant-ops backup --source http://localhost:6333 --backup-path ./backups/qdrant --parallel 4": 0,
    "qdrant-ops verify ./backups/qdrant": 0,
    "qdrant-ops restore ./backups/qdrant --target ./restored --suffix _restored --report restore": 0,
    "qdrant-ops verify ./backups/qdrant --against ./restored --suffix _restored --full": 0,
    "qdrant-ops migrate --config migration_config.json --dry-run": 0,
    "qdrant-ops backup --source http://localhost:6333 --collections docs,emails --backup-path ./backups/qdrant": 0,
    "qdrant-ops restore ./backups/qdrant --target http://new:6333 --rename docs=docs_v2 --on-exists fail": 0,
    "qdrant-ops verify ./backups/qdrant --against http://new:6333 --rename docs=docs_v2 --full": 0,
    # the new store holds the renamed docs_v2 and not documents: a mismatch, exit 1 as documented
    "qdrant-ops verify --source http://old:6333 --target http://new:6333": 1,
    "qdrant-ops forget ./backups/qdrant --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run": 0,
    "qdrant-ops prune ./backups/qdrant --dry-run": 0,
    "qdrant-ops unlock ./backups/qdrant": 0,
    "qdrant-ops verify ./backups/qdrant --read-data-subset 1/5": 0,
    "qdrant-ops backup --source http://localhost:6333 --backup-path ./backups/qdrant --incremental": 0,
    "qdrant-ops snapshot create --url http://qdrant:6333 --collections docs --download -o ./snapshots": 2,
    "qdrant-ops snapshot list --url http://qdrant:6333 --node http://node2:6333": 2,
    "qdrant-ops snapshot download docs docs-123-2026-01-01-00-00-00.snapshot --url http://qdrant:6333": 2,
    "qdrant-ops snapshot delete docs docs-123-2026-01-01-00-00-00.snapshot --url http://qdrant:6333": 2,
    "qdrant-ops snapshot restore docs ./snapshots/docs/x.snapshot --url http://qdrant:6333 --priority snapshot": 2,
    "qdrant-ops snapshot inspect ./snapshots/docs/x.snapshot": 2,
    "qdrant-ops snapshot convert ./snapshots/docs/x.snapshot --to ./backups/from-snapshot": 2,
    "qdrant-ops migrate --config migration_config.json --parallel 4 --report migration": 0,
    "qdrant-ops validate --config migration_config.json --min-recall 0.95": 0,
    "qdrant-ops cutover --alias documents_live --collection documents_v56 --target http://localhost:6333": 0,
    "qdrant-ops rollback --alias documents_live --target http://localhost:6333": 0,
    "qdrant-ops rollback 20260102T101500Z-a1b2 --backup-path ./backups": 2,
    # source databases: no such store here, so each is the one-line refusal a read gives (it never creates one)
    "qdrant-ops migrate --source chroma:./chroma-data --target http://localhost:6333 --dry-run": 2,
    "qdrant-ops migrate --source milvus:./milvus.db --target http://localhost:6333 --collections docs": 2,
    "qdrant-ops migrate --source 'lancedb:./lance-db?distance=cosine' --target edge:./edge --collections items": 2,
    "qdrant-ops migrate --source 'faiss:./images.faiss?sidecar=./images.parquet' --target ./local-store": 2,
    "qdrant-ops cleanup-legacy --detect": 0,
    "qdrant-ops cleanup-legacy --scripts 'scripts/old_*.py' --dry-run": 0,
    "qdrant-ops consolidate-clients --repo . --report out/consolidate": 0,
    "qdrant-ops check-legacy --consolidation-report out/consolidate.json": 0,
    "qdrant-ops init runbook.yaml": 0,
    "qdrant-ops run --runbook runbook.yaml --dry-run --plan docs/PLAN.md": 2,
    "qdrant-ops runs --runbook runbook.yaml": 0,
    "qdrant-ops config show backup --config backup_config.json": 0,
    "qdrant-ops config schema migrate": 0,
}
# README lines that cannot run against embedded stores, each with the reason; never run here.
SKIP: dict[str, str] = {
    "qdrant-ops backup --source http://localhost:6333 --backup-path s3://bucket/qdrant": (
        "s3:// needs an object store and credentials"
    ),
    "qdrant-ops --storage-option endpoint_url=http://minio:9000 restore s3://bucket/qdrant --target http://new:6333": (
        "s3:// needs a MinIO server"
    ),
    "qdrant-ops backups list s3://bucket/qdrant --json": "s3:// needs an object store and credentials",
    "qdrant-ops migrate --source 'postgresql://app@db/prod?table=docs&vector=embedding&id=doc_id'"
    " --target http://localhost:6333": (
        "needs a PostgreSQL server at host db; the outcome (exit 3) would depend on name resolution here"
    ),
    "qdrant-ops migrate --source 'milvus+http://milvus:19530?database=prod' --target http://localhost:6333": (
        "needs a Milvus server at host milvus; the outcome (exit 3) would depend on name resolution here"
    ),
}
# Lines run inside a git repository with legacy scripts, not beside the stores.
IN_REPO = ("qdrant-ops cleanup-legacy", "qdrant-ops consolidate-clients", "qdrant-ops check-legacy")


def readme_lines() -> list[str]:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```(?:sh|bash)\n(.*?)```", text, flags=re.S)
    return [re.split(r"\s+#\s", line)[0].strip() for b in blocks for line in b.splitlines() if line.startswith("qdrant-ops")]


def _setup(work: Path) -> Path:
    for name in ("docs", "emails", "documents"):
        make_collection(str(work / "src-store"), name, "int-unnamed", n=40)
    close_all()
    (work / "migration_config.json").write_text(json.dumps({
        "source_qdrant": {"path": "./src-store"}, "target_qdrant": {"path": "./src-store"},
        "collections": ["documents"], "format_version": "v56", "backup_path": "./backups/migrate",
    }))
    (work / "backup_config.json").write_text(json.dumps({
        "qdrant_host": "localhost", "qdrant_port": 6333, "qdrant_api_key": "${QDRANT_API_KEY}",
        "backup_path": "./backups/qdrant", "collections": ["roadmap_tasks", "emails", "documents"],
    }))
    repo = make_repo(work / "repo")
    old = repo / "scripts/old_export.py"
    old.write_text((repo / "scripts/export_points.py").read_text())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "an old script")
    return repo


@pytest.mark.slow
def test_every_readme_command_runs_with_its_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = readme_lines()
    assert set(lines) == set(EXPECTED) | set(SKIP), set(lines) ^ (set(EXPECTED) | set(SKIP))
    assert not set(EXPECTED) & set(SKIP)
    lines = [line for line in lines if line not in SKIP]
    repo = _setup(tmp_path)
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)
    failures = []
    for line in lines:
        cmd = line
        for server, store in SERVERS.items():
            cmd = cmd.replace(server, store)
        os.chdir(repo if line.startswith(IN_REPO) else tmp_path)
        res = runner.invoke(app, shlex.split(cmd)[1:])
        close_all(keep_memory=True)
        err = res.stderr.strip()
        if res.exit_code != EXPECTED[line]:
            failures.append(f"{line}: exit {res.exit_code}, expected {EXPECTED[line]}: {err[-300:]}")
        elif res.exit_code == 2 and (len(err.splitlines()) != 1 or "Usage:" in err or "No such option" in err):
            failures.append(f"{line}: exit 2 without one clear line: {err[-300:]}")
    assert not failures, "\n".join(failures)
