"""Creating and migrating an instance folder; never wiping one."""

from __future__ import annotations

import os
from pathlib import Path

from fabhub import config, migrations
from fabhub.db import opened
from fabhub.ledger.keys import ensure_trust_key


def init_instance(instance: Path) -> list[str]:
    """Create or migrate the instance at ``instance``; return what was done (empty if nothing).

    Existing data is kept: only missing files are created and pending migrations applied.
    """
    done: list[str] = []
    if not instance.exists():
        instance.mkdir(parents=True, mode=0o700)
        done.append(f"created instance folder {instance}")
    if config.ensure_secret_key(instance):
        done.append("created the session-signing key (secret_key, mode 0600)")
    key_line = ensure_trust_key(instance)
    if key_line:
        done.append(key_line)
    settings = config.load(instance)
    database = Path(settings["DATABASE"])
    is_new = not database.exists()
    with opened(database, settings["SQLITE_BUSY_TIMEOUT_MS"]) as db:
        applied = migrations.apply(db)
    if is_new:
        os.chmod(database, 0o600)
        done.append(f"created database {database}")
    done.extend(f"applied migration {name}" for name in applied)
    return done


def check_ready(instance: Path) -> None:
    """Raise :class:`config.ConfigError` if the instance needs ``fabhub init`` first."""
    settings = config.load(instance)
    database = Path(settings["DATABASE"])
    hint = f"run `fabhub --instance {instance} init`"
    if not database.exists():
        raise config.ConfigError(f"no database at {database}: {hint}")
    with opened(database, settings["SQLITE_BUSY_TIMEOUT_MS"]) as db:
        pending = migrations.pending_names(db)
    if pending:
        raise config.ConfigError(f"the database needs migrations {', '.join(pending)}: {hint}")
