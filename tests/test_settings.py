"""Settings: documented defaults, validation, unknown keys rejected."""

from __future__ import annotations

import datetime
import pickle

import pytest

from ruralnet.model.errors import SettingsError
from ruralnet.model.settings import Settings, clock_seconds


def test_defaults_follow_the_norms():
    s = Settings()
    assert s.walk_speed_kmh == 4.0 and s.bus_max_kmh == 60 and s.bus_slow_kmh == 20
    assert s.bus_seats == 56 and s.kindergarten_bus_seats == 45
    assert s.max_ride_minutes == 45 and s.oversized_class == 56 and s.small_site_pupils == 20
    assert max(s.bus_speeds_kmh.values()) <= s.bus_max_kmh


def test_unknown_key_raises_with_suggestions():
    with pytest.raises(SettingsError, match="walking_speed") as err:
        Settings.from_dict({"walking_speed": 3})
    assert "walk_speed_kmh" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_invalid_values_all_reported():
    with pytest.raises(SettingsError) as err:
        Settings(walk_speed_kmh=-1, bus_seats=0, max_snap_m=float("nan"))
    text = str(err.value)
    assert "walk_speed_kmh" in text and "bus_seats" in text and "max_snap_m" in text


def test_replace_merges_tables():
    s = Settings().replace(bus_speeds_kmh={"track": 15.0})
    assert s.bus_speeds_kmh["track"] == 15 and "primary" in s.bus_speeds_kmh
    with pytest.raises(TypeError):
        s.bus_speeds_kmh["track"] = 1  # immutable


def test_age_shares_validated():
    with pytest.raises(SettingsError, match="unknown stages"):
        Settings.from_dict({"age_shares": {"senior": 0.1}})


def test_every_setting_has_a_source_and_a_row_in_the_readme():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for row in Settings.describe():
        assert row["source"].strip(), row["name"]
        assert f"| `{row['name']}` |" in readme, f"{row['name']} missing from the README's table"


def test_typos_and_wrong_types_are_named():
    with pytest.raises(SettingsError, match="did you mean 'max_walk_minutes'"):
        Settings.from_dict({"max_walk_minute": 25})
    with pytest.raises(SettingsError, match="table of name = value"):
        Settings.from_dict("fast")
    with pytest.raises(SettingsError) as err:
        Settings.from_dict({"demand_basis": "pupils", "keep_sites": [1, 2], "young_max_grade": 12})
    for name in ("demand_basis", "keep_sites", "young_max_grade"):
        assert name in str(err.value)


def test_bell_times_are_times_of_kinds():
    s = Settings.from_dict({"bell_times": {"kindergarten": "8:45"}, "weekly_arrival": "18:00"})
    assert s.bell_times["kindergarten"] == "8:45" and s.bell_times["central_primary"] == "08:00"
    assert clock_seconds(s.bell_times["kindergarten"]) == 8 * 3600 + 45 * 60
    assert clock_seconds(datetime.time(7, 5)) == 7 * 3600 + 300  # a TOML local time
    with pytest.raises(SettingsError) as err:
        Settings.from_dict(
            {
                "bell_times": {"kindergarden": "8:45", "central_primary": "25:00"},
                "dismissal_times": {"nine_year": "five"},
                "weekly_arrival": "noon",
            }
        )
    text = str(err.value)
    for part in ("unknown kinds ['kindergarden']", "bell_times['central_primary']",
                 "dismissal_times['nine_year']", "weekly_arrival must be a time"):  # fmt: skip
        assert part in text
    assert pickle.loads(pickle.dumps(s)).bell_times == s.bell_times


@pytest.mark.parametrize("text", ["0²:30", "٠٨:٣٠", "８:30", "08:3O"])
def test_a_time_with_other_digits_is_refused_not_a_crash(text):
    """Issue #25: a superscript digit passed str.isdigit() and crashed int()."""
    assert clock_seconds(text) is None
    with pytest.raises(SettingsError, match="central_primary"):
        Settings.from_dict({"bell_times": {"central_primary": text}})


def test_numbers_too_large_to_compute_with_are_refused():
    """Issue #25: a unit cost of 1e30 crashed the cost table (cast to whole yuan)."""
    with pytest.raises(SettingsError) as err:
        Settings.from_dict({"bus_cost_per_year": 1e30, "site_cost_per_year": float("inf")})
    assert "bus_cost_per_year" in str(err.value) and "site_cost_per_year" in str(err.value)
    assert Settings.from_dict({"bus_cost_per_year": 1e9}).bus_cost_per_year == 1e9


def test_an_outflow_that_empties_the_county_is_refused():
    """Issue #25: an outflow rate of 0.99 a year ran; at most half the pupils leave a year."""
    with pytest.raises(
        SettingsError, match=r"rural_outflow_rate must be a share from 0 up to 0\.5"
    ):
        Settings.from_dict({"rural_outflow_rate": 0.99})
    assert Settings.from_dict({"rural_outflow_rate": 0.5}).rural_outflow_rate == 0.5


def test_bus_seats_outside_a_school_bus_are_refused():
    """Issue #25: bus_seats = 1 ran for over 600 s (one pick-up a pupil)."""
    with pytest.raises(SettingsError) as err:
        Settings.from_dict({"bus_seats": 1, "kindergarten_bus_seats": 500})
    assert "bus_seats must be a whole number 10..70, got 1" in str(err.value)
    assert "kindergarten_bus_seats" in str(err.value)
