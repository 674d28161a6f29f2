"""Where the project keeps its local files: the data folder and the default SQLite warehouse in it.

``FB_COMMERCE_DATA_DIR`` names the folder; without it, the repository's git-ignored ``data/`` folder is used
when the package runs from the source tree (``plugins/fb_commerce``), and ``./data`` otherwise (an installed
wheel has no repository to point at).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "FB_COMMERCE_DATA_DIR"
WAREHOUSE_FILE = "warehouse.db"

# plugins/fb_commerce/warehouse/paths.py -> parents: warehouse, fb_commerce, plugins, <repo>
_PACKAGE_PARENTS = Path(__file__).resolve().parents


def repo_root() -> Path | None:
    """The repository folder when the package runs from the source tree, else None."""
    plugins = _PACKAGE_PARENTS[2]
    return _PACKAGE_PARENTS[3] if plugins.name == "plugins" else None


def data_dir(create: bool = True) -> Path:
    """The project's data folder (``$FB_COMMERCE_DATA_DIR``, else ``<repo>/data``), created if missing."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
    else:
        root = repo_root()
        path = (root if root is not None else Path.cwd()) / "data"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def default_warehouse_path(create_dir: bool = True) -> Path:
    """The embedded SQLite warehouse file used when no warehouse connection is configured."""
    return data_dir(create=create_dir) / WAREHOUSE_FILE


def default_warehouse_url(create_dir: bool = True) -> str:
    """SQLAlchemy URL of :func:`default_warehouse_path`."""
    return f"sqlite:///{default_warehouse_path(create_dir=create_dir)}"
