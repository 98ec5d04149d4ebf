#!/usr/bin/env python3
"""Writes agencies/california-zip-counties.csv: the California ZIP codes and their county.

The source is the `zipcodes` package on PyPI (https://pypi.org/project/zipcodes/, MIT
licence), which embeds a US ZIP code dataset. Run it with that package installed:

    python3 -m venv /tmp/zipenv && /tmp/zipenv/bin/pip install zipcodes
    /tmp/zipenv/bin/python agencies/zip/generate.py

It writes the file beside this folder (or the path given as the first argument). The
output is committed; the server never runs this script.

What the package gives, and what this keeps:
- one county per ZIP code (a string, "Fresno County"); the package never lists two, so no
  line here has more than one, though the format allows `county;county2`;
- every California record that names a county, active or not (a retired ZIP code still
  tells where a caller lives);
- records with no county are left out and listed in the header, so the line asks those
  callers for their county as it does for an unknown ZIP code.
"""

import sys
from pathlib import Path

import zipcodes

# The 58 counties, as agencies/california.toml and src/domain/agencies name them.
COUNTIES = """Alameda Alpine Amador Butte Calaveras Colusa Contra_Costa Del_Norte El_Dorado Fresno
Glenn Humboldt Imperial Inyo Kern Kings Lake Lassen Los_Angeles Madera Marin Mariposa
Mendocino Merced Modoc Mono Monterey Napa Nevada Orange Placer Plumas Riverside Sacramento
San_Benito San_Bernardino San_Diego San_Francisco San_Joaquin San_Luis_Obispo San_Mateo
Santa_Barbara Santa_Clara Santa_Cruz Shasta Sierra Siskiyou Solano Sonoma Stanislaus Sutter
Tehama Trinity Tulare Tuolumne Ventura Yolo Yuba"""
COUNTIES = [c.replace("_", " ") for c in COUNTIES.split()]


def county_name(raw: str) -> str:
    """'San Luis Obispo County' -> 'San Luis Obispo', refusing a name outside the 58."""
    name = raw.strip()
    if name.endswith(" County"):
        name = name[: -len(" County")]
    if name not in COUNTIES:
        raise SystemExit(f"zipcodes names a county we do not know: {raw!r}")
    return name


def main() -> None:
    default = Path(__file__).parent.parent / "california-zip-counties.csv"
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    records = sorted(zipcodes.filter_by(state="CA"), key=lambda z: z["zip_code"])
    rows, no_county, inactive = [], [], 0
    for z in records:
        if not z["county"].strip():
            no_county.append(z["zip_code"])
            continue
        inactive += not z["active"]
        rows.append((z["zip_code"], county_name(z["county"])))
    seen = {county for _, county in rows}
    missing = [c for c in COUNTIES if c not in seen]
    if missing:
        raise SystemExit(f"no ZIP code for {missing}")
    header = [
        "California ZIP codes and the county each lies in: zip,county (several counties",
        "would be county;county2, none here do). Written by agencies/zip/generate.py; do not",
        "edit by hand, run it again.",
        f"Source: the zipcodes package on PyPI, version {zipcodes.__version__}, MIT licence",
        "(https://github.com/seanpianka/zipcodes). Its county field comes from the",
        "unitedstateszipcodes.org database and its ZIP list from the USPS ZIP Locale Detail,",
        "as its README says. One county per ZIP code: a ZIP code that crosses a county line",
        "is listed under one county only.",
        f"{len(rows)} ZIP codes ({inactive} no longer active, kept); left out for want of a",
        f"county: {' '.join(no_county) or 'none'}.",
    ]
    text = "".join(f"# {line}\n" for line in header)
    text += "zip,county\n" + "".join(f"{z},{c}\n" for z, c in rows)
    out.write_text(text)
    print(f"{out}: {len(rows)} ZIP codes, {len(seen)} counties")


if __name__ == "__main__":
    main()
