"""Config loading: files in three formats, ${VAR} expansion, env vars, flags, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qdrant_ops.config.verbs import load_verb_config
from qdrant_ops.data.config import BackupConfig, RestoreConfig
from qdrant_ops.errors import ConfigError

PLAN_BACKUP = {
    "qdrant_host": "localhost",
    "qdrant_port": 6333,
    "qdrant_api_key": "${QDRANT_API_KEY}",
    "backup_path": "./backups/qdrant",
    "collections": ["roadmap_tasks", "emails", "documents"],
    "verify_integrity": True,
    "compression_level": 6,
}


def test_plan_backup_config_loads_unchanged_without_api_key(tmp_path: Path) -> None:
    f = tmp_path / "backup_config.json"
    f.write_text(json.dumps(PLAN_BACKUP))
    cfg = load_verb_config("backup", file=f, env={})
    assert isinstance(cfg, BackupConfig)
    ep = cfg.source_endpoint()
    assert (ep.host, ep.port, ep.api_key) == ("localhost", 6333, None)
    assert cfg.collections == ["roadmap_tasks", "emails", "documents"]
    assert cfg.compression_level == 6 and cfg.verify_integrity


def test_plan_backup_config_expands_api_key(tmp_path: Path) -> None:
    f = tmp_path / "backup_config.json"
    f.write_text(json.dumps(PLAN_BACKUP))
    cfg = load_verb_config("backup", file=f, env={"QDRANT_API_KEY": "s3cret-key"})
    assert isinstance(cfg, BackupConfig)
    key = cfg.source_endpoint().api_key
    assert key is not None and key.get_secret_value() == "s3cret-key"
    assert "s3cret-key" not in cfg.model_dump_json()


def test_backup_config_env_var_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "b.yaml"
    f.write_text("backup_path: /data/bk\ncollections: [a]\n")
    cfg = load_verb_config("backup", env={"BACKUP_CONFIG": str(f), "QDRANT_URL": "http://q:6333"})
    assert isinstance(cfg, BackupConfig)
    assert cfg.backup_path == "/data/bk"
    assert cfg.source_endpoint().url == "http://q:6333"


@pytest.mark.parametrize(
    "name,text",
    [
        ("c.json", '{"backup_path": "${ROOT:-/tmp}/bk", "collections": ["x"]}'),
        ("c.yaml", "backup_path: ${ROOT:-/tmp}/bk\ncollections:\n  - x\n"),
        ("c.toml", 'backup_path = "${ROOT:-/tmp}/bk"\ncollections = ["x"]\n'),
    ],
)
def test_three_formats_and_default_expansion(tmp_path: Path, name: str, text: str) -> None:
    f = tmp_path / name
    f.write_text(text)
    cfg = load_verb_config("backup", file=f, env={})
    assert isinstance(cfg, BackupConfig)
    assert cfg.backup_path == "/tmp/bk" and cfg.collections == ["x"]
    cfg2 = load_verb_config("backup", file=f, env={"ROOT": "/srv"})
    assert isinstance(cfg2, BackupConfig) and cfg2.backup_path == "/srv/bk"


def test_env_then_flags_precedence(tmp_path: Path) -> None:
    f = tmp_path / "c.json"
    f.write_text('{"qdrant_host": "filehost", "compression_level": 4}')
    cfg = load_verb_config("backup", file=f, env={"QDRANT_HOST": "envhost", "QDRANT_PORT": "7000"})
    assert isinstance(cfg, BackupConfig)
    assert (cfg.source_endpoint().host, cfg.source_endpoint().port) == ("envhost", 7000)
    cfg = load_verb_config("backup", file=f, env={}, flags={"compression_level": 9})
    assert isinstance(cfg, BackupConfig) and cfg.compression_level == 9


def test_restore_target_from_env() -> None:
    cfg = load_verb_config("restore", env={"QDRANT_URL": "https://h:6333", "QDRANT_API_KEY": "k-123"})
    assert isinstance(cfg, RestoreConfig)
    assert cfg.target_endpoint().url == "https://h:6333"


@pytest.mark.parametrize(
    "text,expect",
    [
        ('{"backup_path": 5, "colections": []}', "colections"),
        ('{"compression_level": "high"}', "compression_level"),
        ('{"compression_level": 99}', "compression_level"),
        ('{"batch_size": 1e400}', "batch_size"),
        ('{"collections": "abc"}', "collections"),
        ("[1, 2]", "mapping"),
        ("{not json", "cannot parse"),
    ],
)
def test_errors_name_key_and_file(tmp_path: Path, text: str, expect: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_verb_config("backup", file=f, env={})
    msg = str(info.value)
    assert expect in msg and str(f) in msg and "\n" not in msg


def test_unset_variable_in_required_field_names_variable_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text('{"target": {"host": "h"}, "backup": "x", "rename": {"a": "${NEW_NAME}"}}')
    cfg = load_verb_config("restore", file=f, env={})
    assert isinstance(cfg, RestoreConfig) and cfg.rename == {}
    f.write_text('{"target": {"url": "${TARGET_URL}"}}')
    from qdrant_ops.config.base import Model
    from qdrant_ops.config.loading import load_config
    from qdrant_ops.endpoints.uri import EndpointConfig

    class Needs(Model):
        url: str

    g = tmp_path / "n.json"
    g.write_text('{"url": "${TARGET_URL}"}')
    with pytest.raises(ConfigError) as info:
        load_config(Needs, file=g, env={})
    msg = str(info.value)
    assert "TARGET_URL" in msg and "url" in msg and str(g) in msg
    assert EndpointConfig(url=":memory:").kind() == "memory"


@pytest.mark.parametrize(
    "fields,kind,location",
    [
        ({"url": ":memory:"}, "memory", ":memory:"),
        ({"path": ":memory:"}, "memory", ":memory:"),
        ({"url": "edge:./vectors"}, "edge", "./vectors"),
        ({"url": "./store"}, "local", "./store"),
        ({"path": "/data/store"}, "local", "/data/store"),
        ({"url": "https://u:p@db.example:6333/?api_key=k"}, "remote", "https://u:p@db.example:6333/?api_key=k"),
        ({"url": "grpc://db.example:6334"}, "remote", "grpc://db.example:6334"),
        ({"host": "db.example", "port": 7000}, "remote", ""),
    ],
)
def test_an_address_is_resolved_once_into_its_kind_and_location(
    fields: dict[str, object], kind: str, location: str
) -> None:
    from qdrant_ops.endpoints.uri import EndpointConfig

    cfg = EndpointConfig.model_validate(fields)
    where = cfg.resolve()
    assert (where.kind, where.location) == (kind, location)
    assert where.display == cfg.display() and "u:p" not in where.display and "api_key" not in where.display
    assert cfg.kind() == kind


def test_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_verb_config("backup", file=tmp_path / "nope.json", env={})
    f = tmp_path / "c.ini"
    f.write_text("x=1")
    with pytest.raises(ConfigError, match="unknown config format"):
        load_verb_config("backup", file=f, env={})
