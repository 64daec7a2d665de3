"""The security suite reuses the integration suite's helpers (servers, simulators, signed SNS)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
