"""The seven kinds of damage to a finished backup, defined once: ``verify`` and ``restore`` must both
refuse each and name the damaged file. Used by tests/data/test_corruption.py (one seeded case per
kind), tests/reliability/test_corruption_trials.py and benchmarks/trials.py (many random cases)."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from qdrant_ops.data.config import RestoreConfig
from qdrant_ops.data.restore import restore
from qdrant_ops.data.verify import verify_backup
from qdrant_ops.endpoints.archive import MANIFEST, write_manifest_checksum
from qdrant_ops.endpoints.open import close_all
from qdrant_ops.endpoints.uri import endpoint_from_uri
from qdrant_ops.errors import QdrantOpsError

KINDS = ["flip", "truncate", "delete", "manifest-count", "manifest-hash", "manifest-path", "swap"]


@dataclass
class Corruption:
    kind: str
    file: str  # the name a refusal must mention
    detail: str


def data_files(bdir: Path) -> list[Path]:
    return sorted(bdir.glob("*/*.parquet"))


def corrupt(bdir: Path, kind: str, rng: random.Random) -> Corruption:
    files = data_files(bdir)
    victim = rng.choice(files)
    if kind == "flip":
        data = bytearray(victim.read_bytes())
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
        victim.write_bytes(bytes(data))
        return Corruption(kind, victim.name, f"bit flipped at byte {pos}")
    if kind == "truncate":
        size = victim.stat().st_size
        keep = rng.randrange(size)
        with open(victim, "r+b") as fh:
            fh.truncate(keep)
        return Corruption(kind, victim.name, f"cut to {keep} of {size} bytes")
    if kind == "delete":
        victim.unlink()
        return Corruption(kind, victim.name, "deleted")
    if kind == "swap":
        others = [f for f in files if f != victim]
        other = rng.choice(others)
        shutil.copyfile(other, victim)
        return Corruption(kind, victim.name, f"replaced by {other.name}")
    manifest = bdir / MANIFEST
    data = json.loads(manifest.read_text())
    entry = next(iter(data["collections"].values()))
    fe = rng.choice(entry["files"])
    if kind == "manifest-count":
        if rng.random() < 0.5:
            entry["points_count"] += rng.choice([-1, 1]) * rng.randint(1, 1000)
        else:
            fe["rows"] += rng.choice([-1, 1]) * rng.randint(1, 1000)
    elif kind == "manifest-hash":
        h = list(fe["sha256"])
        i = rng.randrange(len(h))
        h[i] = "0" if h[i] != "0" else "1"
        fe["sha256"] = "".join(h)
    elif kind == "manifest-path":
        fe["path"] = rng.choice(["../" + fe["path"], "/etc/passwd", fe["path"] + ".gone", "x/../../y"])
    manifest.write_text(json.dumps(data))
    # Re-checksummed, so the checks behind the manifest's own sha256 are the ones on trial.
    write_manifest_checksum(bdir)
    name = MANIFEST if kind == "manifest-count" else Path(fe["path"]).name
    return Corruption(kind, name, f"{kind} of {fe['path']}")


def refused(bdir: Path, c: Corruption, target: str) -> tuple[bool, bool, str]:
    """(verify refused naming the file, restore refused naming the file, messages)."""
    msgs: list[str] = []
    try:
        rep = verify_backup(str(bdir))
        text = "; ".join(ch.detail for ch in rep.checks if not ch.passed)
        v_ok = rep.status != "ok" and c.file in text
        msgs.append(text)
    except QdrantOpsError as exc:
        v_ok = c.file in str(exc)
        msgs.append(str(exc))
    try:
        restore(RestoreConfig(backup=str(bdir), target=endpoint_from_uri(target)))
        r_ok = False
        msgs.append("restore succeeded")
    except QdrantOpsError as exc:
        r_ok = c.file in str(exc)
        msgs.append(str(exc))
    finally:
        close_all()
    return v_ok, r_ok, " | ".join(msgs)
