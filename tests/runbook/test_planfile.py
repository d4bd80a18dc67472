"""The markdown plan: ticking is idempotent and every other line keeps its bytes."""

from __future__ import annotations

from pathlib import Path

from qdrant_ops.runbook.planfile import PhaseUpdate, plan_update, update_text, write_plan

PLAN = (
    "# Plan\r\n\r\n## 7.1 Data migration\r\n\r\n- [ ] Back up (backup)\r\n- [ ] Migrate data\r\n"
    "* [ ] validate everything\r\n- [ ] backups-old cleanup\r\n\r\n## 7.2 Legacy\r\n- [ ] backup of code\r\n"
    "- [ ] Archive"
)


def _up(run: str = "R1") -> list[PhaseUpdate]:
    return [
        PhaseUpdate(phase="7.1", steps=[("backup", []), ("validate", []), ("migrate", ["Migrate data"])],
                    status=f"2026-01-02 · phase 7.1 complete (qdrant-ops run `{run}`)", run_id=run),
        PhaseUpdate(phase="7.2", steps=[("cleanup", ["archive"])],
                    status=f"2026-01-02 · phase 7.2 in progress (qdrant-ops run `{run}`)", run_id=run),
    ]


def test_ticks_matching_items_only_under_their_phase() -> None:
    new, ticked, statuses = update_text(PLAN, _up())
    assert ticked == ["Back up (backup)", "Migrate data", "validate everything", "Archive"]
    assert "- [ ] backups-old cleanup\r\n" in new  # the id as a whole word only
    assert "- [ ] backup of code\r\n" in new  # 7.2 items are not 7.1's
    assert len(statuses) == 2


def test_update_is_idempotent_and_other_lines_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "PLAN.md"
    path.write_bytes(PLAN.encode())
    change = plan_update(path, _up())
    write_plan(change)
    once = path.read_bytes()
    write_plan(plan_update(path, _up()))
    assert path.read_bytes() == once
    assert not plan_update(path, _up()).changed
    old_lines = PLAN.encode().splitlines(keepends=True)
    new_lines = once.splitlines(keepends=True)
    untouched = [ln for ln in old_lines if b"[ ]" not in ln]
    for ln in untouched[:-1]:
        assert ln in new_lines
    assert all(ln.endswith(b"\r\n") for ln in new_lines[:-1])
    # a second run adds its own line under the first one
    write_plan(plan_update(path, _up("R2")))
    text = path.read_text()
    assert text.index("run `R1`") < text.index("run `R2`") < text.index("- [x] Back up")


def test_dry_run_diff_shows_the_change() -> None:
    from qdrant_ops.runbook.planfile import PlanChange

    new, _, _ = update_text(PLAN, _up())
    diff = PlanChange(path=Path("PLAN.md"), old=PLAN, new=new).diff()
    assert "-- [ ] Back up (backup)" in diff and "+- [x] Back up (backup)" in diff
