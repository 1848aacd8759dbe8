"""What the service relies on in its dependencies beyond their promises, and its proofs.

The service leans on parts of waitress, Flask, Werkzeug and flask-cors that
their authors do not promise to keep. Each such reliance has a proof: a
function that runs the real dependency on sample inputs and compares the
outcome with what the service needs, returning None when it holds and why
not otherwise. A proof never looks at names; it looks at what happens.

There are three kinds of reliance, and what happens when a proof fails
depends on the kind:

- a GUARD is a bound the security notes promise (docs/security.md): the
  server refuses to start, with one line naming it (UnprovenGuard);
- a FEATURE is something the service offers that only this server can do
  (connection faults): it is switched off, with one WARNING line, and the
  service says so where it is asked for;
- a SHORTCUT does for less what the dependency would do anyway: it is
  switched off, with one WARNING line, and the same answers cost more.

A proof runs once per process; verdicts() tells every verdict so far.
"""

import logging
from collections.abc import Callable
from enum import Enum

logger = logging.getLogger("simple_flask")

Proof = Callable[[], str | None]


class Kind(str, Enum):
    """What a failed proof switches off."""

    GUARD = "guard"
    FEATURE = "feature"
    SHORTCUT = "shortcut"

    def __str__(self) -> str:
        return self.value


class UnprovenGuard(RuntimeError):
    """A guard the security notes promise could not be proven on these dependencies."""

    def __init__(self, name: str, why: str):
        super().__init__(f"cannot prove the guard {name!r} on this waitress: {why}")
        self.name = name
        self.why = why


# name -> (kind, None when proven or why not), in the order proofs ran.
_VERDICTS: dict[str, tuple[Kind, str | None]] = {}


def _run(proof: Proof) -> str | None:
    try:
        return proof()
    except Exception as error:
        # A dependency that lacks what a proof drives fails the proof.
        return f"{type(error).__name__}: {error}"


def holds(name: str, kind: Kind, proof: Proof) -> bool:
    """Tell whether reliance `name` holds, running its proof once per process.

    A failed GUARD raises UnprovenGuard (every time it is asked); a failed
    FEATURE or SHORTCUT is logged once, as a WARNING, and is then off.
    """
    if name not in _VERDICTS:
        why = _run(proof)
        _VERDICTS[name] = (kind, why)
        if why is not None and kind is not Kind.GUARD:
            logger.warning("%s %r is off: %s", kind, name, why)
    kind, why = _VERDICTS[name]
    if why is not None and kind is Kind.GUARD:
        raise UnprovenGuard(name, why)
    return why is None


def verdicts() -> dict[str, tuple[Kind, str | None]]:
    """Return each reliance proven so far: its kind, and None if it holds or why not."""
    return dict(_VERDICTS)


def forget() -> None:
    """Forget every verdict, so that each proof runs again (for tests that change a dependency)."""
    _VERDICTS.clear()
