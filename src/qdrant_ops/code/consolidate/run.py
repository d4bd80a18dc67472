"""``qdrant-ops consolidate-clients``: find duplicated Qdrant client modules and consolidate onto one.

Detect (codebase.clients, codebase.duplicates) -> plan (codebase.plan: names used, blocked items,
every file's new text) -> validate before (byte-compile, import, tests) -> back up (a git ref
holding the exact working tree and index, or a tar.gz) -> apply (write, ``git rm``) -> validate
after -> revert byte for byte when something that worked before is broken.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
from collections.abc import Sequence
from pathlib import Path

from qdrant_ops.code import gitops
from qdrant_ops.code.consolidate.checks import (
    DEFAULT_TEST_COMMAND,
    baseline_problem,
    compile_errors,
    import_errors,
    interpreter,
    newly_failing,
    run_tests,
)
from qdrant_ops.code.consolidate.clients import is_test_path
from qdrant_ops.code.consolidate.filebackup import restore_tar_backup, write_tar_backup
from qdrant_ops.code.consolidate.plan import Plan, build_plan
from qdrant_ops.code.consolidate.report import (
    BackupOut,
    ConsolidateReport,
    DecisionOut,
    FileChangeOut,
    GroupOut,
    MemberOut,
    ReferenceOut,
    RenameOut,
    ValidationOut,
)
from qdrant_ops.errors import NotFoundError, UsageError

log = logging.getLogger(__name__)

__all__ = ["ConsolidateReport", "consolidate_clients", "restore_consolidation", "DEFAULT_TEST_COMMAND"]


def _fill(report: ConsolidateReport, plan: Plan) -> None:
    idx = plan.index
    for g in plan.groups:
        report.groups.append(GroupOut(
            canonical=g.canonical, canonical_module=idx.module_for_path(g.canonical), reason=g.reason,
            members=[MemberOut(path=m.rel, module=m.module, role=m.role, score=m.score,
                               importers=m.importers, api=m.api) for m in g.members],
        ))
        for m in g.members:
            usage = plan.usages.get(m.rel)
            if usage is not None:
                report.importers[m.rel] = [f"{f}:{ln}" for f, lines in sorted(usage.importers.items()) for ln in lines]
    for d in plan.decisions:
        report.decisions.append(DecisionOut(
            duplicate=d.duplicate, canonical=d.canonical, role=d.role, score=d.score,
            names_used=d.used, missing=d.missing, merged=d.merged, blocked=d.blocked,
        ))
        if d.blocked:
            report.blocked.append(f"{d.duplicate}: {d.blocked}")
    report.lookalikes = sorted(r for r, c in plan.clients.items() if "lookalike" in c.kinds)
    report.shadowing = sorted(r for r, c in plan.clients.items() if c.shadows)
    report.shadow_notes = dict(sorted(plan.shadow_notes.items()))
    report.renames = [RenameOut(old=o, new=n, reason=why) for o, n, why in plan.renames]
    report.explain = plan.explain
    for rel in plan.changed:
        e = plan.edits[rel]
        report.files_changed.append(FileChangeOut(
            path=rel, references=[ReferenceOut(line=c.line, kind=c.kind, old=c.old, new=c.new) for c in e.changes],
        ))
    report.files_removed = plan.removed
    for rel, err in sorted(idx.parse_errors.items()):
        report.notes.append(f"{rel} could not be parsed and was not analysed ({err})")


def _import_targets(plan: Plan) -> set[str]:
    """Library modules worth importing after the change: canonical modules and changed package modules."""
    idx = plan.index
    out: set[str] = set()
    for rel in {g.canonical for g in plan.groups} | set(plan.changed):
        name = idx.module_for_path(rel)
        if not name or not rel.endswith(".py") or rel not in idx.files:
            continue
        in_package = (os.path.dirname(rel) + "/__init__.py").lstrip("/") in idx.files
        if rel in plan.clients and plan.clients[rel].is_test:
            continue
        if in_package or rel in {g.canonical for g in plan.groups}:
            out.add(name)
    # the importers of a removed or renamed shadow: those it broke (they meant the installed
    # package) must import after, those that took its own names must still import
    for rel, c in plan.clients.items():
        if c.shadows and rel in plan.removed:
            for where in [*c.shadow_breaks, *c.shadow_uses]:
                importer = where.rsplit(":", 1)[0]
                name = idx.module_for_path(importer)
                if name and importer not in plan.removed and not is_test_path(importer):
                    out.add(name)
    return out


def _validate(
    repo: Path, plan: Plan, *, after: bool, modules: set[str], test_command: str | None,
    timeout: float, python: str,
) -> ValidationOut:
    idx = plan.index
    if after:
        sources = {r: (e.new or b"") for r, e in plan.edits.items() if e.new is not None and r.endswith(".py")}
    else:
        sources = {r: f.raw for r, f in idx.files.items()}
    out = ValidationOut(compile_errors=compile_errors(sources))
    out.import_errors = import_errors(repo, modules, idx.roots, python, timeout=min(timeout, 300))
    if test_command:
        out.tests = run_tests(repo, test_command, idx.roots, python, timeout)
    return out


def consolidate_clients(
    repo: Path,
    *,
    list_only: bool = False,
    canonical: Sequence[str] = (),
    merge_missing: bool = False,
    dry_run: bool = False,
    backup: bool = True,
    backup_dir: Path | None = None,
    test_command: str | None = DEFAULT_TEST_COMMAND,
    test_timeout: float = 900,
    exclude: Sequence[str] = (),
    min_similarity: float = 0.6,
    python: str | None = None,
    import_check: bool = True,
) -> ConsolidateReport:
    """Detect duplicated Qdrant client modules under ``repo`` and consolidate each group onto one.

    ``test_command=None`` skips the test runs (compile and import checks still run).
    """
    repo = Path(repo).resolve()
    if not repo.is_dir():
        raise NotFoundError(f"repository directory {repo} does not exist")
    mode = "list" if list_only else "dry-run" if dry_run else "apply"
    report = ConsolidateReport(repo=str(repo), mode=mode)
    in_git = gitops.is_work_tree(repo)
    git_root = gitops.toplevel(repo) if in_git else None
    prefix = repo.relative_to(git_root).as_posix() if git_root and git_root != repo else ""
    tracked = gitops.tracked_files(repo) if git_root is not None else None  # cwd-relative
    plan = build_plan(
        repo, exclude=exclude, canonical=canonical, merge=merge_missing,
        min_similarity=min_similarity, tracked=tracked,
    )
    _fill(report, plan)
    for line in plan.explain:
        log.info("%s", line)
    if list_only:
        report.finish("ok")
        return report
    if dry_run:
        report.diff = "".join(plan.edits[r].diff() for r in sorted(plan.edits))
        report.finish("dry-run")
        return report
    if not plan.edits:
        report.notes.append("nothing to change")
        report.finish("ok")
        return report
    python, report.python_source = interpreter(repo, python)
    report.python = python
    modules = _import_targets(plan) if import_check else set()
    report.before = _validate(repo, plan, after=False, modules=modules, test_command=test_command,
                              timeout=test_timeout, python=python)
    touched = sorted(plan.edits)
    created = plan.created
    modes = {r: (repo / r).stat().st_mode for r in touched if r not in created}
    git_backup = None
    if backup:
        if git_root is not None:
            git_backup = gitops.create_backup(
                git_root, [f"{prefix}/{p}" if prefix else p for p in touched],
                message=created_line([f"{prefix}/{p}" if prefix else p for p in created])
                + f"qdrant-ops consolidate-clients backup of {repo.name}",
            )
            report.backup = BackupOut(
                kind="git-ref", location=git_backup.ref,
                restore_command=f"qdrant-ops consolidate-clients --repo {shlex.quote(str(repo))} --restore {git_backup.ref}",
            )
        else:
            archive = write_tar_backup(repo, touched, backup_dir or repo / ".qdrant-ops" / "backups",
                                       created=created)
            report.backup = BackupOut(
                kind="tar.gz", location=str(archive),
                restore_command=f"qdrant-ops consolidate-clients --repo {shlex.quote(str(repo))} --restore {shlex.quote(str(archive))}",
            )
    else:
        report.notes.append("no backup taken (--no-backup)")
    index_tree = gitops.git(git_root, "write-tree").strip() if git_root is not None else None
    _apply(repo, plan, git_root, prefix)
    report.after = _validate(repo, plan, after=True, modules=modules - _removed_modules(plan),
                             test_command=test_command, timeout=test_timeout, python=python)
    broken = _blame(report)
    if broken:
        report.newly_failing = broken
        for rel in touched:
            old = plan.edits[rel].old
            target = repo / rel
            if rel in created:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(old)
            os.chmod(target, modes[rel] & 0o7777)
        if git_root is not None and index_tree is not None:
            gitops.reset_index(git_root, index_tree)
        report.reverted = True
        report.check("consolidation keeps what worked", False, "; ".join(broken))
        report.finish("failed")
        return report
    unproven = _unproven(report, modules - _removed_modules(plan), test_command)
    if unproven:
        report.check("consolidation keeps what worked", False, "inconclusive: " + "; ".join(unproven),
                     inconclusive=True)
    else:
        report.check("consolidation keeps what worked", True, _evidence(report))
    report.finish()
    return report


def _evidence(report: ConsolidateReport) -> str:
    """What the passing comparison rests on, in figures."""
    before, after = report.before, report.after
    if before is None or after is None:
        return "no checks ran"
    parts = ["compile as before"]
    imported = after.import_errors
    fixed = [m for m, e in imported.items() if e is None and before.import_errors.get(m)]
    if imported:
        parts.append(f"{sum(e is None for e in imported.values())} of {len(imported)} modules import"
                     + (f" ({', '.join(sorted(fixed))} failed before the change)" if fixed else ""))
    t = after.tests
    if t is None:
        parts.append("tests not run (--no-tests)")
    else:
        counts = ", ".join(f"{v} {k}" for k, v in sorted(t.counts.items())) or "no summary"
        parts.append("no tests collected (exit 5)" if t.exit_code == 5 else f"tests as before ({counts})")
    return "; ".join(parts)


def _unproven(report: ConsolidateReport, modules: set[str], test_command: str | None) -> list[str]:
    """Why the before/after comparison proves nothing: a baseline that could not run."""
    before, after = report.before, report.after
    out: list[str] = []
    if before is None or after is None:
        return ["the checks did not run"]
    problem = baseline_problem(before.tests)
    if problem:
        out.append(problem)
    no_tests = test_command is None or (after.tests is not None and after.tests.exit_code == 5)
    if no_tests and not modules:
        out.append("only byte-compilation could run: no test was collected and no changed module to import")
    failing = sorted(m for m in modules if before.import_errors.get(m) and after.import_errors.get(m))
    if failing:
        out.append(f"{', '.join(failing)} failed to import before and after the change "
                   f"({after.import_errors[failing[0]]})")
    return out


def created_line(created: Sequence[str]) -> str:
    """The first lines of a git backup's message: the files the change creates, for ``--restore``."""
    return f"{CREATED_TAG}{json.dumps(list(created))}\n\n" if created else ""


CREATED_TAG = "qdrant-ops-created: "


def _removed_modules(plan: Plan) -> set[str]:
    return {n for r in plan.removed if (n := plan.index.module_for_path(r))}


def _blame(report: ConsolidateReport) -> list[str]:
    before, after = report.before, report.after
    if before is None or after is None:
        return []
    out = [f"compile {r}: {e}" for r, e in after.compile_errors.items() if r not in before.compile_errors]
    out += [f"import {m}: {e}" for m, e in after.import_errors.items() if e and not before.import_errors.get(m)]
    if after.tests is not None:
        out += newly_failing(before.tests, after.tests)
    return out


def _apply(repo: Path, plan: Plan, git_root: Path | None, prefix: str) -> None:
    for rel in plan.changed:
        new = plan.edits[rel].new
        if new is not None:
            (repo / rel).write_bytes(new)
    created = plan.created
    if git_root is not None and created:
        # a renamed tracked shadow: git sees a rename
        renamed = [new for old, new, _ in plan.renames
                   if gitops.is_tracked(git_root, f"{prefix}/{old}" if prefix else old)]
        if renamed:
            gitops.git(git_root, "add", "--", *[f"{prefix}/{p}" if prefix else p for p in renamed])
    removed = plan.removed
    tracked = set()
    if git_root is not None:
        for rel in removed:
            full = f"{prefix}/{rel}" if prefix else rel
            if gitops.is_tracked(git_root, full):
                tracked.add(rel)
        gitops.git_rm(git_root, [f"{prefix}/{r}" if prefix else r for r in sorted(tracked)])
    for rel in removed:
        target = repo / rel
        if target.exists():
            target.unlink()
        d = target.parent
        while d != repo and d.is_dir():
            cache = d / "__pycache__"
            if cache.is_dir() and not [p for p in d.iterdir() if p.name != "__pycache__"]:
                shutil.rmtree(cache)
            if any(d.iterdir()):
                break
            d.rmdir()
            d = d.parent


def restore_consolidation(repo: Path, backup: str) -> ConsolidateReport:
    """Put the repository back as it was when ``backup`` (a git ref or a tar.gz) was taken."""
    repo = Path(repo).resolve()
    report = ConsolidateReport(repo=str(repo), mode="restore")
    candidate = Path(backup)
    if not candidate.is_absolute():
        candidate = (Path.cwd() / backup) if (Path.cwd() / backup).exists() else repo / backup
    if backup.endswith((".tar.gz", ".tgz")) or candidate.is_file():
        report.restored = restore_tar_backup(repo, candidate)
    elif gitops.is_work_tree(repo):
        git_root = gitops.toplevel(repo)
        found = gitops.resolve_backup(git_root, backup)
        report.restored = gitops.restore_backup(git_root, found)
        message = gitops.git(git_root, "log", "-1", "--format=%B", found.commit)
        if message.startswith(CREATED_TAG):
            for rel in json.loads(message.splitlines()[0][len(CREATED_TAG):]):
                target = git_root / rel
                if target.is_file():
                    target.unlink()
                    report.restored.append(rel)
    else:
        raise UsageError(f"{backup!r} is not a backup file and {repo} is not a git work tree")
    report.backup = BackupOut(kind="tar.gz" if candidate.is_file() else "git-ref", location=backup, restore_command="")
    report.finish("ok")
    return report
