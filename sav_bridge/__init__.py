"""sav-bridge: a webhook gateway between X and helpdesks, with a posting policy."""

import sysconfig
from pathlib import Path

__version__ = "0.1.0"


def data_root(package_dir: Path, install_data: Path) -> Path:
    """Where schemas/ and policies/ are: beside the package in a checkout (or an editable install), else in
    `share/sav-bridge` under the installation's data path, where the wheel puts them (the container)."""
    if (package_dir.parent / "schemas" / "config.schema.json").is_file():
        return package_dir.parent
    return install_data / "share" / "sav-bridge"


#: The checkout root, or `<prefix>/share/sav-bridge` for a regular install: schemas/ and policies/ live there.
PROJECT_ROOT = data_root(Path(__file__).resolve().parent, Path(sysconfig.get_path("data")))
SCHEMA_DIR = PROJECT_ROOT / "schemas"
POLICY_DIR = PROJECT_ROOT / "policies"
