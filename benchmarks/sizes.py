"""The installed size of a server's run-time dependencies, from the distributions' RECORDs."""

import json
import re
from importlib.metadata import Distribution, distributions
from importlib.util import cache_from_source
from pathlib import Path

from packaging.requirements import Requirement


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _editable_sources(dist: Distribution) -> list[Path]:
    """Source files of an editable install, whose RECORD lists none of them."""
    direct = dist.read_text("direct_url.json")
    if not direct or not json.loads(direct).get("dir_info", {}).get("editable"):
        return []
    origin = Path(json.loads(direct)["url"].removeprefix("file://"))
    files = []
    for top in (dist.read_text("top_level.txt") or "").split():
        for source in (origin / top).rglob("*.py"):
            files.append(source)
            # A regular install compiles each module too.
            files.append(Path(cache_from_source(str(source))))
    return files


def closure(names: tuple[str, ...], path: list[str] | None = None) -> list[Distribution]:
    """Return `names` and everything they require at run time, as installed on `path`."""
    found_on = distributions() if path is None else distributions(path=path)
    # The first one on the path wins, as for imports.
    installed: dict[str, Distribution] = {}
    for dist in found_on:
        installed.setdefault(_canonical(dist.metadata["Name"]), dist)
    found: dict[str, Distribution] = {}
    pending = [_canonical(name) for name in names]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        if name not in installed:
            raise LookupError(f"{name} is not installed")
        found[name] = dist = installed[name]
        for line in dist.requires or []:
            requirement = Requirement(line)
            # Extras are not installed by a plain install, and markers rule out the rest.
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            pending.append(_canonical(requirement.name))
    return sorted(found.values(), key=lambda d: _canonical(d.metadata["Name"]))


def installed_bytes(dist: Distribution) -> int:
    """Return the bytes on disk of the files `dist` installed."""
    paths = [Path(dist.locate_file(file)) for file in dist.files or []]
    paths += _editable_sources(dist)
    return sum(path.stat().st_size for path in set(paths) if path.is_file())


def measure(names: tuple[str, ...], path: list[str] | None = None) -> dict[str, object]:
    """Return the total installed bytes of `names`' closure and each distribution's share."""
    shares = {
        f"{d.metadata['Name']}=={d.version}": installed_bytes(d) for d in closure(names, path)
    }
    return {"bytes": sum(shares.values()), "distributions": shares}
