"""The report of ``qdrant-ops migrate`` and ``qdrant-ops validate`` (JSON, Markdown and HTML)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from qdrant_ops.reports import Report, bytes_cell, human_bytes, md_table, plain


class SamplePoint(BaseModel):
    id: str
    before: dict[str, Any]
    after: dict[str, Any] | None = None  # None: filtered out


class AliasMove(BaseModel):
    """An alias of a source collection, recreated on the target collection."""

    alias: str
    collection: str  # the target collection it points at
    previous: str | None = None  # what it pointed at on the target before, if it existed
    # create | replace | already there | refused: ... (planned); created | replaced | not created: ...
    status: str = ""


class CollectionMigration(BaseModel):
    name: str
    target_name: str
    action: str = ""  # created | replaced | appended | create/replace/append (dry run)
    source_points: int = 0
    read: int = 0
    written: int = 0
    filtered: int = 0
    dropped: int = 0
    failed: int = 0
    batches: int = 0
    splits: int = 0
    retries: int = 0
    slices: int = 1
    duration_s: float = 0.0
    points_per_s: float = 0.0  # points written by this run / its copy time (resumed ones left out)
    resumed_points: int = 0  # points an interrupted earlier run had already read
    digest: str = ""
    digest_keys: str = ""
    digest_count: int = 0
    config_diff: list[dict[str, Any]] = Field(default_factory=list)
    settings_not_applied: list[str] = Field(default_factory=list)
    aliases: list[AliasMove] = Field(default_factory=list)
    dead_letter: str | None = None
    dead_letter_untransformed: str | None = None
    # dry run
    estimated_points: int = 0
    estimated_bytes: int = 0
    estimated_backup_bytes: int = 0
    estimated_duration_s: float = 0.0
    samples: list[SamplePoint] = Field(default_factory=list)


class MigrateReport(Report):
    verb: str = "migrate"
    source: str = ""
    target: str = ""
    dry_run: bool = False
    resumed: bool = False
    format_version: str | None = None
    migrated_at: str = ""
    slices: int = 1
    backup_dir: str = ""
    state_file: str = ""
    rerun_command: str = ""
    # A source from another database: how its ids, vectors, distances and payload map (per line).
    source_mapping: list[str] = Field(default_factory=list)
    alias: str | None = None
    alias_previous: str | None = None
    estimated_backup_bytes: int = 0
    free_disk_bytes: int = 0
    dropped_sources: list[str] = Field(default_factory=list)  # --drop-source, after validation passed
    collections: list[CollectionMigration] = Field(default_factory=list)

    def error_line(self) -> str | None:
        if self.status != "partial":
            return None
        failed = sum(c.failed for c in self.collections)
        letters = [dl for c in self.collections for dl in (c.dead_letter, c.dead_letter_untransformed) if dl]
        where = f"; they are in {', '.join(letters)}" if letters else ""
        return f"{failed} point(s) could not be migrated{where}; rerun the same command to resume"

    def recovery(self) -> list[str]:
        """What to do next, only ever what cannot lose data: a migration never writes to its
        source, so no advice overwrites it (a restore into a dropped source creates it anew)."""
        out: list[str] = []
        if self.dry_run or self.status == "partial":
            return out
        targets = ",".join(c.target_name for c in self.collections)
        if self.alias:
            out.append(f"undo the alias switch: qdrant-ops rollback --alias {self.alias} --target {self.target}")
        if self.dropped_sources and self.backup_dir:
            out.append(
                f"bring back the dropped source collections: qdrant-ops restore {self.backup_dir} "
                f"--target {self.source} --collections {','.join(self.dropped_sources)}"
            )
        if self.status == "failed":
            again = f" ({self.rerun_command} --on-exists replace)" if self.rerun_command else " (--on-exists replace)"
            out.append(
                f"the source {self.source} is untouched; the target {targets} stays for inspection: "
                f"drop it, or migrate again with other settings{again}"
            )
        return out

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        if self.resumed and not self.dry_run:
            done = sum(c.resumed_points for c in self.collections)
            lines.append(f"  resumed from {self.state_file}: {done} points were read by the earlier run")
        lines += [f"  mapping: {m}" for m in self.source_mapping]
        for c in self.collections:
            if self.dry_run:
                lines.append(
                    f"  {c.name} -> {c.target_name} ({c.action}): ~{c.estimated_points} of {c.source_points} "
                    f"points, ~{human_bytes(c.estimated_bytes)}, ~{c.estimated_duration_s:.1f}s to read"
                )
                for d in c.config_diff:
                    lines.append(f"    {d['path']}: {json.dumps(d['source'])} -> {json.dumps(d['target'])}")
                for m in c.aliases:
                    lines.append(f"    alias {m.alias} -> {m.collection}: {m.status}")
                for s in c.samples:
                    after = json.dumps(s.after["payload"], ensure_ascii=False) if s.after else "(filtered out)"
                    lines.append(f"    point {s.id}: {json.dumps(s.before['payload'], ensure_ascii=False)}")
                    lines.append(f"      -> {after}")
                continue
            extra = f", {c.failed} failed" if c.failed else ""
            if c.resumed_points:
                extra += f" (resumed from {c.resumed_points} points)"
            lines.append(
                f"  {c.name} -> {c.target_name} ({c.action}): {c.written} written, {c.filtered} filtered"
                f"{extra} of {c.read} read; {c.batches} batches, {c.retries} retries, {c.points_per_s:.0f} points/s"
            )
            for m in c.aliases:
                lines.append(f"    alias {m.alias} -> {m.collection}: {m.status}")
            for dl in (c.dead_letter, c.dead_letter_untransformed):
                if dl:
                    lines.append(f"    dead letter: {dl}")
        if self.dry_run:
            lines.append(f"backup: ~{human_bytes(self.estimated_backup_bytes)}, {human_bytes(self.free_disk_bytes)} free")
            lines.append("dry run: nothing was written")
        else:
            if self.backup_dir:
                lines.append(f"backup: {self.backup_dir}")
            if self.alias:
                lines.append(f"alias {self.alias}: {self.alias_previous or '(none)'} -> {self.collections[0].target_name}")
            if self.status == "partial":
                lines.append(f"resume: {self.rerun_command} (state: {self.state_file})")
            lines += [f"next: {line}" for line in self.recovery()]
        return lines

    def markdown_sections(self) -> list[str]:
        out = ["", f"Source `{self.source}` -> target `{self.target}` · format version: "
               f"{self.format_version or '-'} · slices: {self.slices} · resumed: {plain(self.resumed)}"
               + (" · **dry run: nothing written**" if self.dry_run else ""), ""]
        out += ["## Collections", ""]
        if self.dry_run:
            out.append(md_table(
                ["collection", "target", "action", "source points", "est. points", "est. bytes", "est. backup bytes", "est. read (s)"],
                [[c.name, c.target_name, c.action, c.source_points, c.estimated_points, bytes_cell(c.estimated_bytes),
                  bytes_cell(c.estimated_backup_bytes), c.estimated_duration_s] for c in self.collections],
            ))
            out += ["", f"Backup: ~{bytes_cell(self.estimated_backup_bytes)} bytes; {bytes_cell(self.free_disk_bytes)} bytes free."]
        else:
            out.append(md_table(
                ["collection", "target", "action", "read", "written", "filtered", "failed", "batches", "splits",
                 "retries", "duration (s)", "points/s", "digest"],
                [[c.name, c.target_name, c.action, c.read, c.written, c.filtered, c.failed, c.batches, c.splits,
                  c.retries, f"{c.duration_s:.2f}", f"{c.points_per_s:.0f}", c.digest] for c in self.collections],
            ))
        moves = [(c, m) for c in self.collections for m in c.aliases]
        if moves:
            out += ["", "## Aliases", ""]
            out.append(md_table(["alias", "source collection", "target collection", "before on the target", "status"],
                                [[m.alias, c.name, m.collection, m.previous or "-", m.status] for c, m in moves]))
        for c in self.collections:
            if c.config_diff:
                out += ["", f"### Config diff: {c.name} -> {c.target_name}", ""]
                out.append(md_table(["setting", "source", "target"],
                                    [[d["path"], json.dumps(d["source"]), json.dumps(d["target"])] for d in c.config_diff]))
            if c.settings_not_applied:
                out += ["", f"Not applied by the target engine: {', '.join(c.settings_not_applied)}"]
            if c.samples:
                out += ["", f"### Transforms on sample points: {c.name}", ""]
                out.append(md_table(["id", "before", "after"], [
                    [s.id, json.dumps(s.before, ensure_ascii=False),
                     json.dumps(s.after, ensure_ascii=False) if s.after else "(filtered out)"] for s in c.samples]))
            for dl in (c.dead_letter, c.dead_letter_untransformed):
                if dl:
                    out += ["", f"Dead letter ({c.name}): `{dl}`"]
        out += ["", "## Recovery", ""]
        if self.backup_dir:
            out.append(f"- Backup of the sources: `{self.backup_dir}`")
        if self.state_file and self.status == "partial":
            out.append(f"- Resume: `{self.rerun_command}` (state `{self.state_file}`)")
        out += [f"- {line}" for line in self.recovery()]
        if self.alias:
            out.append(f"- Alias `{self.alias}` moved from `{self.alias_previous}` to `{self.collections[0].target_name}`")
        return out


class ValidateReport(Report):
    verb: str = "validate"
    source: str = ""
    target: str = ""
    collections: dict[str, str] = Field(default_factory=dict)

    def markdown_sections(self) -> list[str]:
        return ["", f"Source `{self.source}` -> target `{self.target}`", "",
                md_table(["collection", "target"], [[k, v] for k, v in self.collections.items()])]
