"""``ruralnet.datasets``: the bundled and shared data of :mod:`ruralnet.sources.datasets` under the
short name the README uses (``import ruralnet.datasets`` and ``from ruralnet.datasets import
...`` give that module itself)."""

import sys

from .sources import datasets as _target

sys.modules[__name__] = _target
