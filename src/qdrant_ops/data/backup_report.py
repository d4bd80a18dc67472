"""The backup's report: per collection and for the whole run."""

from __future__ import annotations

from pydantic import BaseModel, Field

from qdrant_ops.reports import Report, bytes_cell, human_bytes, md_table, plain


class CollectionBackup(BaseModel):
    name: str
    points: int = 0
    bytes: int = 0
    files: int = 0
    slices: int = 1
    duration_s: float = 0.0  # the copy alone (the scan and the files written) in this run
    resumed_points: int = 0  # points an interrupted earlier run had already backed up
    points_per_s: float = 0.0  # points copied by this run / duration_s
    mb_per_s: float = 0.0
    digest: str = ""
    snapshots: int = 0  # native snapshot files beside the Parquet files (backup --snapshot)


class BackupReport(Report):
    verb: str = "backup"
    source: str = ""
    backup_dir: str = ""
    resumed: bool = False
    resumed_from: str = ""  # the partial backup an interrupted run left, when this run resumed it
    parallel_mode: str = ""
    uploaded_files: int = 0  # to an object store: files sent by this run
    reused_files: int = 0  # ... and files an interrupted run had already sent
    collections: list[CollectionBackup] = Field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = super().summary_lines()
        if self.resumed:
            done = sum(c.resumed_points for c in self.collections)
            lines.append(f"  resumed from {self.resumed_from}: {done} points were backed up by the earlier run")
        for c in self.collections:
            resumed = f" (resumed from {c.resumed_points} points)" if c.resumed_points else ""
            lines.append(
                f"  {c.name}: {c.points} points{resumed}, {c.files} files, {human_bytes(c.bytes)}, "
                f"{c.points_per_s:.0f} points/s, {c.mb_per_s:.1f} MB/s"
            )
        if self.backup_dir:
            lines.append(f"backup: {self.backup_dir}")
        return lines

    def markdown_sections(self) -> list[str]:
        rows = [
            [c.name, c.points, c.resumed_points, bytes_cell(c.bytes), c.files, c.slices, f"{c.duration_s:.2f}",
             f"{c.points_per_s:.0f}", f"{c.mb_per_s:.1f}", c.digest]
            for c in self.collections
        ]
        return [
            "",
            f"Source: `{self.source}` · backup: `{self.backup_dir}` · resumed: {plain(self.resumed)} · "
            f"parallelism: {self.parallel_mode}",
            "",
            "## Collections",
            "",
            md_table(
                ["collection", "points", "resumed from", "bytes", "files", "slices", "copy (s)", "points/s",
                 "MB/s", "digest"],
                rows,
            ),
        ]
