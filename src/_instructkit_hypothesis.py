"""Hypothesis's plugin hook for instructkit: ``st.from_type(Conversation)`` and friends.

Hypothesis loads every ``hypothesis`` entry point whenever it is imported, in every
project that has instructkit installed. This module lives outside the ``instructkit``
package so that loading it imports nothing (importing ``instructkit._anything`` would
import the whole package, pyarrow with it). The hook registers the strategies only if
instructkit is already imported; otherwise ``import instructkit`` registers them itself
when it finds Hypothesis loaded. Either order of imports ends registered, and
``import instructkit`` alone still never imports Hypothesis.
"""

from __future__ import annotations

import sys


def _hypothesis_setup_hook() -> None:
    if "instructkit" in sys.modules:
        # Imported here, not at the top: Hypothesis is still initialising when it calls this
        # hook, and the registration imports hypothesis.strategies.
        from instructkit._from_type import register_type_strategies

        register_type_strategies()
