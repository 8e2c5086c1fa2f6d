"""sav-bridge: a webhook gateway between X and helpdesks, with a posting policy."""

from pathlib import Path

__version__ = "0.1.0"

#: The checkout (or image) root: schemas/ and policies/ live there, beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = PROJECT_ROOT / "schemas"
POLICY_DIR = PROJECT_ROOT / "policies"
