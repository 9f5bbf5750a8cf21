"""Every table of the marketing side on one metadata: what migrations and their checks compare.

Tables live with their domains (campaigns, scoring, accounts); importing them registers their
tables on `Base.metadata`.
"""

from __future__ import annotations

import kith.marketing.accounts
import kith.marketing.bounces.models
import kith.marketing.campaigns.models
import kith.marketing.scoring.models  # noqa: F401  (each import above registers its tables)
from kith.marketing.models import Base

metadata = Base.metadata
