"""``ruralnet.maps``: the map builders of :mod:`ruralnet.outputs.maps` under the short name the
README uses (``import ruralnet.maps`` and ``from ruralnet.maps import ...`` give that module
itself)."""

import sys

from .outputs import maps as _target

sys.modules[__name__] = _target
