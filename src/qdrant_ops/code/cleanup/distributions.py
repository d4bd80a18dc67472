"""Which distribution an import comes from: installed metadata first, then known mismatches.

``importlib.metadata.packages_distributions()`` answers for everything installed in the running
environment; namespace roots shared by several distributions (``google``, ``azure``) are split by
the files each distribution installs. For what is not installed, a table of the common
import-name/distribution-name mismatches answers, then the import name itself.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.metadata as md
from collections.abc import Iterable, Mapping

from packaging.utils import canonicalize_name

# import name (or dotted prefix) -> distributions that provide it
KNOWN_MISMATCHES: dict[str, tuple[str, ...]] = {
    "yaml": ("PyYAML",),
    "PIL": ("Pillow",),
    "sklearn": ("scikit-learn",),
    "skimage": ("scikit-image",),
    "dotenv": ("python-dotenv",),
    "bs4": ("beautifulsoup4",),
    "cv2": ("opencv-python", "opencv-python-headless", "opencv-contrib-python",
            "opencv-contrib-python-headless"),
    "attr": ("attrs",),
    "dateutil": ("python-dateutil",),
    "jwt": ("PyJWT",),
    "jose": ("python-jose",),
    "magic": ("python-magic",),
    "docx": ("python-docx",),
    "pptx": ("python-pptx",),
    "multipart": ("python-multipart",),
    "slugify": ("python-slugify",),
    "Crypto": ("pycryptodome", "pycrypto"),
    "Cryptodome": ("pycryptodomex",),
    "OpenSSL": ("pyOpenSSL",),
    "git": ("GitPython",),
    "serial": ("pyserial",),
    "usb": ("pyusb",),
    "zmq": ("pyzmq",),
    "psycopg2": ("psycopg2", "psycopg2-binary"),
    "psycopg": ("psycopg", "psycopg-binary"),
    "MySQLdb": ("mysqlclient",),
    "mysql": ("mysql-connector-python",),
    "google.protobuf": ("protobuf",),
    "google.cloud": ("google-cloud-core",),
    "google.generativeai": ("google-generativeai",),
    "grpc": ("grpcio",),
    "fitz": ("PyMuPDF",),
    "markdown": ("Markdown",),
    "telegram": ("python-telegram-bot",),
    "discord": ("discord.py",),
    "win32api": ("pywin32",),
    "win32com": ("pywin32",),
    "pythoncom": ("pywin32",),
    "websocket": ("websocket-client",),
    "Levenshtein": ("python-Levenshtein", "Levenshtein"),
    "faiss": ("faiss-cpu", "faiss-gpu"),
    "dns": ("dnspython",),
    "nacl": ("PyNaCl",),
    "kafka": ("kafka-python",),
    "ldap": ("python-ldap",),
    "jinja2": ("Jinja2",),
    "pkg_resources": ("setuptools",),
    "sentence_transformers": ("sentence-transformers",),
    "qdrant_client": ("qdrant-client",),
    "llama_index": ("llama-index", "llama-index-core"),
    "langchain_community": ("langchain-community",),
    "fastembed": ("fastembed", "fastembed-gpu"),
    "Bio": ("biopython",),
    "igraph": ("python-igraph", "igraph"),
    "sqlalchemy": ("SQLAlchemy",),
    "flask_sqlalchemy": ("Flask-SQLAlchemy",),
    "pydantic_settings": ("pydantic-settings",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu"),
    "magic_pdf": ("magic-pdf",),
    "docopt": ("docopt", "docopt-ng"),
    "ruamel": ("ruamel.yaml",),
    "typing_extensions": ("typing-extensions",),
}

# Distributions used at run time without an import of their own name.
DEFAULT_ALLOW_LIST: tuple[str, ...] = (
    "uvicorn", "gunicorn", "hypercorn", "daphne", "waitress", "python-multipart", "uvloop",
    "httptools", "watchfiles", "websockets", "gevent", "eventlet",
    "psycopg2", "psycopg2-binary", "psycopg", "psycopg-binary", "pymysql", "mysqlclient",
    "mysql-connector-python", "asyncpg", "aiosqlite", "cx-oracle", "oracledb", "pyodbc",
    "pymssql", "sqlite-vec", "pg8000",
    "grpcio", "grpcio-tools", "protobuf", "email-validator", "certifi",
    "setuptools", "wheel", "pip", "supervisor", "honcho", "flower",
    "black", "ruff", "flake8", "isort", "mypy", "pylint", "pytest", "coverage", "pre-commit",
    "tox", "nox", "sphinx", "mkdocs", "mkdocs-material",
    "pytest-*", "types-*", "*-stubs", "flake8-*", "sphinx-*", "mkdocs-*",
)


@functools.lru_cache(maxsize=1)
def _installed() -> Mapping[str, list[str]]:
    return md.packages_distributions()


@functools.lru_cache(maxsize=256)
def _dist_files(dist: str) -> frozenset[str]:
    try:
        files = md.files(dist) or []
    except md.PackageNotFoundError:
        return frozenset()
    return frozenset(str(f).replace("\\", "/") for f in files)


def _narrow(module: str, dists: list[str]) -> list[str]:
    """Of several distributions sharing a namespace root, those that install ``module``."""
    parts = module.split(".")
    for depth in range(min(len(parts), 4), 1, -1):
        prefix = "/".join(parts[:depth])
        hits = [
            d for d in dists
            if any(f == prefix + ".py" or f.startswith(prefix + "/") for f in _dist_files(d))
        ]
        if hits:
            return hits
    return dists


def distributions_for(module: str, extra: Mapping[str, Iterable[str]] | None = None) -> set[str]:
    """Canonical names of the distributions an import of ``module`` may come from."""
    parts = module.split(".")
    out: set[str] = set()
    table: dict[str, tuple[str, ...]] = dict(KNOWN_MISMATCHES)
    for k, v in (extra or {}).items():
        table[k] = tuple(v)
    for depth in range(len(parts), 0, -1):
        key = ".".join(parts[:depth])
        if key in table:
            out.update(canonicalize_name(d) for d in table[key])
            break
    installed = _installed().get(parts[0], [])
    if len(installed) > 1:
        installed = _narrow(module, installed)
    out.update(canonicalize_name(d) for d in installed)
    out.add(canonicalize_name(parts[0]))
    for depth in range(2, min(len(parts), 3) + 1):
        out.add(canonicalize_name("-".join(parts[:depth])))
    return out


def console_scripts(dist: str) -> list[str]:
    """The commands a distribution installs (``gunicorn``, ``black``), when it is installed."""
    try:
        eps = md.distribution(dist).entry_points
    except md.PackageNotFoundError:
        return []
    return [ep.name for ep in eps if ep.group in ("console_scripts", "gui_scripts")]


def requires_of(dist: str) -> set[str]:
    """Canonical names an installed distribution depends on (markers ignored)."""
    try:
        reqs = md.requires(dist) or []
    except md.PackageNotFoundError:
        return set()
    out: set[str] = set()
    for r in reqs:
        name = r.split(";", 1)[0].strip()
        for sep in ("[", "<", ">", "=", "!", "~", " ", "("):
            name = name.split(sep, 1)[0]
        if name:
            out.add(canonicalize_name(name))
    return out


def is_allowed(name: str, allow: Iterable[str]) -> bool:
    canon = canonicalize_name(name)
    return any(fnmatch.fnmatchcase(canon, canonicalize_name(p)) for p in allow)
