"""The inventory schema, under the name the loader, the CLI and the docs have always used.

The models live in ``hkcompute.schema``: the site model (``hkcompute.model``) is built from
them, and a model-level module importing the inventory package made an import cycle
(``model`` -> ``inventory.schema`` while ``inventory.expand`` -> ``model``). Every public
name of ``hkcompute.schema`` is available here as it was.
"""

from hkcompute.schema import *  # noqa: F403  (the whole schema, re-exported as before)
