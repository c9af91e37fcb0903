"""The migrations build exactly the schema the models describe, on both databases: a column
added to a model without its migration (or the other way round) fails here, not on an
operator's first upgrade."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import mailbox.models  # noqa: F401  (registers the tables)
from mailbox.db import alembic_config
from tests.fixtures.db import both_backends


def _differences(connection) -> list:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, SQLModel.metadata)


@both_backends
async def test_migrated_schema_equals_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []


def test_migrations_form_one_line_of_history() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://"))
    heads = scripts.get_heads()
    assert len(heads) == 1, f"several heads: {heads}"
    revisions = list(scripts.walk_revisions())
    numbers = sorted(int(r.revision) for r in revisions)
    assert numbers == list(range(1, len(revisions) + 1))
    for revision in revisions:
        assert revision.module.__file__.rsplit("/", 1)[-1].startswith(revision.revision + "_")


pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
