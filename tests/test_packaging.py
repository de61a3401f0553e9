"""setup.cfg ships every package folder and every data file the code needs."""

from __future__ import annotations

import configparser
from pathlib import Path

from tests.test_architecture import PARTS

ROOT = Path(__file__).resolve().parent.parent


def read_setup() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def test_every_package_folder_is_listed() -> None:
    listed = set(read_setup()["options"]["packages"].split())
    on_disk = set()
    for folder, package in PARTS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            on_disk.add(".".join([package, *rel.parts]))
    assert on_disk - listed == set(), "add these to [options] packages in setup.cfg"
    assert listed - on_disk == set(), "these listed packages have no folder"


def test_package_dir_maps_each_part() -> None:
    mapping = dict(
        line.split(" = ") for line in
        read_setup()["options"]["package_dir"].strip().splitlines()
    )
    assert mapping == {package: folder for folder, package in PARTS.items()}


def test_data_files_match_package_data_globs() -> None:
    data = read_setup()["options.package_data"]
    globs = {key: value.replace(",", " ").split() for key, value in data.items()}
    for folder, patterns in (("web", globs["fabhub.web"]), ("jobs", globs["fabhub.jobs"])):
        shipped = {p for pattern in patterns for p in (ROOT / folder).glob(pattern)}
        needed = {p for p in (ROOT / folder).rglob("*")
                  if p.is_file() and p.suffix not in {".py", ".pyc"}}
        assert needed <= shipped, sorted(str(p) for p in needed - shipped)
