"""2020 census figures for the Qingyuan counties, as documented constants.

Source: China's 7th national population census (2020), county tables, as distributed with the
ruralnet workspace's reference data (``census2020_counties.csv``: POPU, POPU_URB and the
age-band shares AGES_0, AGES_1-4, AGES_5-9, AGES_10-14). Only the figures the generator uses
are kept here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CountyCensus:
    """Census figures of one county (shares are fractions of the population)."""

    code: str
    name: str
    population: int
    urban_share: float
    age_0: float
    age_1_4: float
    age_5_9: float
    age_10_14: float

    def stage_shares(self) -> dict[str, float]:
        """Share of the population per school stage, from single-year splits of the age bands.

        Kindergarten (ages 3-5) = 2/4 of ages 1-4 + 1/5 of 5-9; primary (6-11) = 4/5 of 5-9 +
        2/5 of 10-14; junior (12-14) = 3/5 of 10-14 (ages spread evenly within a band).
        """
        return {
            "kindergarten": self.age_1_4 * 2 / 4 + self.age_5_9 * 1 / 5,
            "primary": self.age_5_9 * 4 / 5 + self.age_10_14 * 2 / 5,
            "junior": self.age_10_14 * 3 / 5,
        }


#: 2020 census, Qingyuan prefecture's county-level units.
QINGYUAN_2020: dict[str, CountyCensus] = {
    c.code: c
    for c in (
        CountyCensus("441802", "清城区", 1119901, 0.8221, 0.0114, 0.0596, 0.0788, 0.0613),
        CountyCensus("441803", "清新区", 618523, 0.4477, 0.0118, 0.0597, 0.0836, 0.0759),
        CountyCensus("441821", "佛冈县", 315502, 0.4336, 0.0117, 0.0596, 0.0869, 0.0817),
        CountyCensus("441823", "阳山县", 367175, 0.4205, 0.0148, 0.0780, 0.0935, 0.0702),
        CountyCensus("441825", "连山壮族瑶族自治县", 95136, 0.4074, 0.0139, 0.0666, 0.0923, 0.0733),
        CountyCensus("441826", "连南瑶族自治县", 134691, 0.4532, 0.0132, 0.0663, 0.1005, 0.0840),
        CountyCensus("441881", "英德市", 941325, 0.4229, 0.0131, 0.0662, 0.0945, 0.0726),
        CountyCensus("441882", "连州市", 377220, 0.4681, 0.0105, 0.0585, 0.0871, 0.0724),
    )
}
