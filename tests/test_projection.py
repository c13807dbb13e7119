"""Enrolment over the years: the cohort-survival projection against a plain re-computation
written here, the births series, the ledger of entries, exits and progression, outflow."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ruralnet as rn
from ruralnet.analysis.projection import (
    births_in,
    births_series,
    project_enrolment,
    whole_pupils,
)
from ruralnet.model.errors import RuralnetWarning
from ruralnet.model.grades import GRADE_LEVELS, parse_grades
from ruralnet.sources.county import read_county


@pytest.fixture(scope="module")
def folder():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuralnetWarning)
        return read_county(rn.datasets.bundled_county())


def _with_grades(sites: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The sites with made-up pupils per grade (older grades larger, as the births were)."""
    rng = np.random.default_rng(seed)
    out = sites.copy()
    for g in GRADE_LEVELS:
        col = f"k{g + 3}" if g <= 0 else f"g{g}"
        teaches = out["grades"].map(lambda t, g=g: g in parse_grades(t))
        out[col] = np.where(teaches, rng.integers(5, 60, len(out)) + 2 * max(g, 0), 0)
    out["pupils"] = out[[f"k{i}" for i in (1, 2, 3)] + [f"g{i}" for i in range(1, 10)]].sum(axis=1)
    return out


def _by_hand(sites, settings, births, years, ratios, seat):
    """Each site and grade, year by year, in plain Python (the oracle): progression and
    entries, then the village pupils' outflow, ``seat_share_of_outflow`` of it enrolling at the
    county seat's sites teaching the grade, by their pupils of it."""
    taught, base, out = {}, {}, {}
    for _, s in sites.iterrows():
        site = s["site_id"]
        taught[site] = sorted(parse_grades(s["grades"])) if s["status"] == "open" else []
        for g in taught[site]:
            base[site, g] = float(s[f"k{g + 3}" if g <= 0 else f"g{g}"])
        out[site, years[0]] = {g: base[site, g] for g in taught[site]}
    town = dict(zip(sites["site_id"], sites["township_code"].astype(str), strict=True))
    for y in years[1:]:
        raw = {}
        for site, grades in taught.items():
            last, raw[site] = out[site, y - 1], {}
            for g in grades:
                if (g - 1) in grades and g != 1:  # K3 -> 1 is a new stage
                    raw[site][g] = last[g - 1] * ratios[GRADE_LEVELS.index(g - 1)]
                else:
                    age = g + 5
                    raw[site][g] = (
                        base[site, g]
                        * births_in(births, y - age)
                        / births_in(births, years[0] - age)
                    )
        left = {}
        for site, grades in taught.items():
            out[site, y] = dict(raw[site])
            if town[site] != str(seat):
                for g in grades:
                    out[site, y][g] = raw[site][g] * (1 - settings.rural_outflow_rate)
                    left[g] = left.get(g, 0.0) + raw[site][g] * settings.rural_outflow_rate
        for g, n in left.items():
            at_seat = [site for site in taught if town[site] == str(seat) and g in taught[site]]
            weight = sum(raw[site][g] for site in at_seat)
            for site in at_seat:
                part = raw[site][g] / weight if weight > 0 else 1 / len(at_seat)
                out[site, y][g] += settings.seat_share_of_outflow * n * part
    return out


@pytest.mark.parametrize("outflow", [0.0, 0.03])
def test_projection_matches_a_plain_recomputation(folder, outflow):
    sites = _with_grades(folder.sites)
    s = folder.settings.replace(rural_outflow_rate=outflow)
    seat = folder.meta["county"].get("seat_township")
    p = project_enrolment(sites, s, seat)
    births = births_series()
    hand = _by_hand(sites, s, births, p.years, p.ratios, seat)
    cube = p.pupils["central"]
    for i, site in enumerate(p.site_ids):
        for t, year in enumerate(p.years):
            for g, n in hand[site, year].items():
                assert cube[t, i, GRADE_LEVELS.index(g)] == pytest.approx(n, rel=1e-9, abs=1e-9)
    # the ledger balances every year, and accounts for every change of the total
    led = p.ledger[p.ledger["variant"] == "central"]
    total = cube.sum(axis=(1, 2))
    assert np.allclose(led["start"], total[:-1]) and np.allclose(led["end"], total[1:])
    balance = led["start"] - led["exits"] - led["carried"] + led["progressed"] + led["entries"]
    assert np.allclose(balance - led["outflow"] + led["to_seat"], led["end"])
    assert (led["outflow"] > 0).all() == (outflow > 0)
    assert np.allclose(led["to_seat"], s.seat_share_of_outflow * led["outflow"])


def test_grade_one_follows_the_births(folder):
    s = folder.settings.replace(rural_outflow_rate=0.0, enrolment_year=2024)
    with pytest.warns(RuralnetWarning, match="spread evenly"):
        p = project_enrolment(folder.sites, s, None)
    table = p.table()
    g1 = table[(table["grade"] == "g1") & (table["variant"] == "central")]
    per_year = g1.groupby("year")["pupils"].sum()
    assert per_year[2030] / per_year[2024] == pytest.approx(9.54 / 15.23, rel=0.01)
    assert (p.ratios == 1).all()  # no grades given: no progression ratio to read
    # whole pupils: each site's year rounded, its grades adding up
    t0 = whole_pupils(p.pupils["central"][0])
    assert t0.sum() == folder.sites.loc[folder.sites["status"] == "open", "pupils"].sum()
    # the variants differ only where births are not known yet (K1 from 2028 on)
    k1 = table[table["grade"] == "k1"].groupby(["variant", "year"])["pupils"].sum().unstack(0)
    assert (k1.loc[:2027, "low"] == k1.loc[:2027, "high"]).all()
    assert (k1.loc[2028:, "low"] < k1.loc[2028:, "high"]).all()


def test_progression_ratios_come_from_the_roster(folder):
    sites = _with_grades(folder.sites, seed=4)
    s = folder.settings
    p = project_enrolment(sites, s, None)
    assert not (p.ratios == 1).all() and ((p.ratios >= 0.8) & (p.ratios <= 1.2)).all()
    fixed = project_enrolment(sites, s.replace(progression_ratio=0.97), None)
    assert (fixed.ratios == 0.97).all()


def test_a_county_births_series_replaces_the_national_one(folder, tmp_path):
    path = tmp_path / "births.csv"
    pd.DataFrame({"year": range(2010, 2025), "births_million": [1.0] * 15}).to_csv(
        path, index=False
    )
    s = folder.settings.replace(births_file=str(path), progression_ratio=1.0)
    sites = _with_grades(folder.sites)
    for col in [f"k{i}" for i in (1, 2, 3)] + [f"g{i}" for i in range(1, 10)]:
        sites[col] = np.where(sites[col] > 0, 10, 0)  # ten pupils in every grade taught
    p = project_enrolment(sites, s, None)
    cube = p.pupils["central"]
    # flat births, ratios of 1, no outflow: every grade of every site keeps its pupils
    assert np.allclose(cube[-1], cube[0]) and cube[0].sum() > 0
    (tmp_path / "bad.csv").write_text("year,births\n2020,1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="year, births_million"):
        births_series(tmp_path / "bad.csv")


@pytest.mark.parametrize("seed", range(5))
def test_whole_pupils_keep_the_total_and_every_site_near_its_fraction(seed):
    """Issue #25: each site rounded on its own let a year's total drift (22,521 vs 22,518)."""
    rng = np.random.default_rng(seed)
    m = rng.random((int(rng.integers(1, 60)), len(GRADE_LEVELS))) * rng.choice([0.4, 4.0, 40.0])
    m[rng.random(m.shape) < 0.4] = 0
    w = whole_pupils(m)
    assert w.sum() == round(m.sum())
    assert (np.abs(w.sum(axis=1) - m.sum(axis=1)) < 1).all()
    assert (np.abs(w - m) < 1).all() and (w >= 0).all()
    assert not ((w > 0) & (m == 0)).any()  # no pupil in a grade nobody is in


def test_the_drift_to_the_seat_follows_the_census_urban_share(folder):
    """#28: no drift to the county seat by default, although the census shows it. By default
    the villages lose the urban share's growth over their rural share each year, half of
    those pupils enrol at the seat; the seat grows against a projection without drift, the
    villages shrink, and a rate set in the settings wins."""
    from ruralnet.analysis.projection import outflow_rate

    s = folder.settings
    assert s.rural_outflow_rate is None
    urban = folder.meta["county"]["urban_share"]
    assert outflow_rate(s, urban) == pytest.approx(s.urbanisation_per_year / (1 - urban))
    assert outflow_rate(s, None) == 0.0
    assert outflow_rate(s.replace(rural_outflow_rate=0.01), urban) == 0.01
    seat = folder.meta["county"]["seat_township"]
    sites = _with_grades(folder.sites)
    drift = project_enrolment(sites, s, seat, urban_share=urban).table()
    still = project_enrolment(sites, s, seat).table()
    town = dict(zip(sites["site_id"].astype(str), sites["township_code"].astype(str), strict=True))
    for t in (drift, still):
        t["seat"] = t["site_id"].map(town).eq(str(seat))
    last = drift["year"].max()
    at = lambda t, where: t[(t["year"] == last) & (t["variant"] == "central") & where(t)][  # noqa: E731
        "pupils"
    ].sum()
    assert at(drift, lambda t: t["seat"]) > at(still, lambda t: t["seat"])
    assert at(drift, lambda t: ~t["seat"]) < at(still, lambda t: ~t["seat"])
