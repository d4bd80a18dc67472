"""Choose what an archive run moves: named and detected scripts, minus what is live, plus helpers.

A script is refused (kept, with its reason) when it is an application entry point or when code
that stays imports it; a refused script stays live, so what it imports stays too, to a fixed
point. Helpers move only when nothing that stays needs them: no remaining import, not an entry
point, not run by any command. ``--force`` archives named scripts anyway.
"""

from __future__ import annotations

from pathlib import Path

from qdrant_ops.code.cleanup.live import LiveCode, Texts, command_users, find_live
from qdrant_ops.code.cleanup.report import CandidateItem, CleanupReport, KeptHelper
from qdrant_ops.code.cleanup.scripts import (
    HelperPlan,
    detect_candidates,
    plan_helpers,
    remaining_importers,
    select_scripts,
)
from qdrant_ops.code.config import CleanupConfig
from qdrant_ops.code.index import RepoIndex
from qdrant_ops.errors import NotFoundError, UsageError


def _sources(refs: list[str]) -> set[str]:
    return {r.rsplit(":", 1)[0] for r in refs}


def _detect(config: CleanupConfig, root: Path, index: RepoIndex, texts: Texts, live: LiveCode,
            archive_dir: str, reasons: dict[str, str], report: CleanupReport) -> None:
    """Propose candidates; ``--yes`` selects those nothing runs and nothing starts."""
    cands = detect_candidates(index, root, archive_dir)
    paths = [c.path for c in cands]
    used = command_users(index, texts, paths, exclude=())
    free = {p for p in paths if p not in live.entry}
    while True:  # a candidate that stays is live: what it runs is in use too
        still = {p for p in free if _sources(used.get(p, [])) <= free}
        if still == free:
            break
        free = still
    for c in cands:
        why = list(c.reasons)
        if c.path in live.entry:
            why.append(f"in use (an entry point: {live.why(c.path)})")
        elif c.path not in free:
            refs = [r for r in used.get(c.path, []) if r.rsplit(":", 1)[0] not in free]
            why.append("in use (referenced by " + ", ".join(refs[:5]) + ")")
        chosen = c.path in reasons or (config.yes and c.path in free)
        if chosen and c.path not in reasons:
            reasons[c.path] = "detected: " + "; ".join(c.reasons)
        report.candidates.append(CandidateItem(path=c.path, reasons=why, selected=chosen))


def choose_files(config: CleanupConfig, root: Path, index: RepoIndex, texts: Texts,
                 archive_dir: str, report: CleanupReport) -> tuple[list[str], dict[str, str],
                                                                   HelperPlan, LiveCode]:
    """(scripts to move, the reason for each, the helper plan, the live code found)."""
    selected, problems = select_scripts(root, config.scripts, texts.files, archive_dir)
    if config.scripts and not selected and not config.detect:
        # Nothing named exists: a typo, or scripts archived by an earlier run. Not a quiet success.
        raise NotFoundError(
            "; ".join(problems or ["--scripts selected nothing"])
            + f": nothing to archive (scripts archived earlier are under {archive_dir}/)"
        )
    for p in problems:
        report.problem(config.repo, p)
    reasons = {rel: "named as legacy" for rel in selected}
    live = find_live(index, texts)
    if config.detect:
        _detect(config, root, index, texts, live, archive_dir, reasons, report)
    elif not config.scripts:
        raise UsageError("nothing to archive: name scripts with --scripts (paths or globs), "
                         "or propose them with --detect")
    refused: dict[str, str] = {}
    if not config.force:
        for rel in reasons:
            if rel in live.entry:
                refused[rel] = f"an application entry point: {live.why(rel)}"
    moving = [r for r in reasons if r not in refused]
    changed = True
    while changed:  # a refused script stays, so whatever it imports stays too
        changed = False
        for rel in list(moving):
            users, package = remaining_importers(index, rel, set(moving))
            if users and not config.force:
                refused[rel] = "remaining code imports it (" + ", ".join(users[:5]) + ")"
                moving.remove(rel)
                changed = True
    for rel in moving:
        _, package = remaining_importers(index, rel, set(moving))
        # the index marks imports a local qdrant_client.py breaks (``shadowed_by``)
        package = sorted(set(package) | {f"{f}:{ref.lineno}" for f, ref in index.shadowed_importers(rel)
                                         if f not in moving and f != rel})
        if package:
            report.notes.append(
                f"{rel} shadows the qdrant_client package; its importers ({', '.join(package[:5])}) "
                "mean the package and fail with a circular ImportError while the file is there, "
                "so archiving it is the fix; consolidate-clients points importers at a twin")
    for rel, why in refused.items():
        report.problem(rel, f"not archived: {why}; rerun with --force to archive it anyway")
    if selected and not moving and refused:
        listed = "; ".join(f"{r}: {w}" for r, w in list(refused.items())[:3])
        raise UsageError(f"nothing archived: every named script was refused ({listed}); "
                         "rerun with --force to archive them anyway")
    for rel in moving:
        f = index.files.get(rel)
        if f is not None and f.error:
            report.problem(rel, f"archived, but it does not parse ({f.error}): its imports, "
                           "helpers and requirements were not analysed")
    helpers = _helpers(index, texts, live, set(moving))
    # a refused script is listed once, with its own reason, not again as a kept helper
    report.helpers_kept = [KeptHelper(path=h, reason=r) for h, r in helpers.kept.items()
                           if h not in refused]
    return moving, reasons, helpers, live


def _helpers(index: RepoIndex, texts: Texts, live: LiveCode, scripts: set[str]) -> HelperPlan:
    if not scripts:
        return HelperPlan()
    keep = {p: f"an application entry point: {live.why(p)}" for p in live.entry}
    while True:
        plan = plan_helpers(index, scripts, keep)
        moving = scripts | set(plan.moved)
        used = command_users(index, texts, plan.moved, exclude=moving)
        if not used:
            return plan
        for p, refs in used.items():
            keep[p] = "run by a command that stays: " + ", ".join(refs[:5])
