"""check-legacy reads the records the code verbs leave; a kind whose verb is missing fails clearly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qdrant_ops.code.check_legacy import check_legacy, module_names
from qdrant_ops.config.verbs import VERBS
from qdrant_ops.errors import UnsupportedError
from qdrant_ops.runbook.model import CheckLegacyConfig, Runbook
from qdrant_ops.runbook.run import run_runbook


def test_removed_modules_from_a_consolidation_report(tmp_path: Path) -> None:
    (tmp_path / "src/pkg").mkdir(parents=True)
    (tmp_path / "src/pkg/uses.py").write_text(
        "import os\nfrom pkg.old_client import get_client\nfrom pkg import old_client\nimport pkg.new_client\n")
    (tmp_path / "deploy.sh").write_text("python ./tools/old.py --all\npython legacy/tools/old.py\n")
    report_path = tmp_path / "consolidate.json"
    report_path.write_text(json.dumps({"schema": "qdrant-ops/consolidate-clients",
                                       "files_removed": ["src/pkg/old_client.py"]}))
    rep = check_legacy(CheckLegacyConfig(repo=str(tmp_path), consolidation_report=str(report_path),
                                         scripts=["tools/old.py"], archive_path="legacy"))
    assert rep.status == "failed"
    assert [(f.file, f.line, f.kind) for f in rep.findings] == [
        ("deploy.sh", 1, "archived script"),
        ("src/pkg/uses.py", 2, "removed module"),
        ("src/pkg/uses.py", 3, "removed module"),
    ]
    assert module_names("src/pkg/old_client.py") == ["src.pkg.old_client", "pkg.old_client"]


def test_nothing_recorded_passes(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import os\n")
    rep = check_legacy(CheckLegacyConfig(repo=str(tmp_path)))
    assert rep.status == "ok" and rep.notes


def test_a_kind_whose_verb_is_not_in_the_build_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(VERBS, "snapshot")
    rb = Runbook.model_validate({"backup_path": str(tmp_path / "b"), "endpoint": {"url": ":memory:"},
                                 "phases": [{"id": "7.1", "steps": [{"id": "snap", "kind": "snapshot"}]}]})
    with pytest.raises(UnsupportedError, match="not available in this build"):
        run_runbook(rb, dry_run=True)
    assert not (tmp_path / "b").exists()
