"""What a process needs to do Vigil's work: settings, the database and the object store."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session as DbSession

from vigil.db.engine import sessionmaker_for
from vigil.settings import Settings
from vigil.storage import ObjectStore, open_store


@dataclass
class Context:
    settings: Settings
    database_url: str
    store: ObjectStore = field(repr=False)

    @classmethod
    def build(cls, settings: Settings, database_url: str) -> Context:
        return cls(settings=settings, database_url=database_url, store=open_store(settings))

    def db(self) -> DbSession:
        return sessionmaker_for(self.database_url)()
