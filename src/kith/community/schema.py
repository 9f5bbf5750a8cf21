"""Every table of the community side on one metadata: what migrations and their checks compare.

Importing the accounts module registers its table on `Base.metadata`.
"""

from __future__ import annotations

import kith.community.accounts  # noqa: F401  (registers its table)
from kith.community.models import Base

metadata = Base.metadata
