"""Generated demonstration counties on real boundaries, names and census figures.

See :func:`generate_county` (one county), :func:`generate_province` (many) and
``geodata/demo-liannan/README.md`` for what is real and what is generated.
"""

from .generate import (
    CountySpec,
    GeneratedCounty,
    generate_county,
    liannan_spec,
    qingyuan_spec,
    write_county,
)
from .province import generate_province, synthetic_spec

#: The seed of the bundled county ``geodata/demo-liannan``.
DEMO_SEED = 2024

__all__ = [
    "DEMO_SEED",
    "CountySpec",
    "GeneratedCounty",
    "generate_county",
    "generate_province",
    "liannan_spec",
    "qingyuan_spec",
    "synthetic_spec",
    "write_county",
]
