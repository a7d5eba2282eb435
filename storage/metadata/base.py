"""What every part of the store stands on: the engine, one transaction per call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models import faults
from models.errors import DossierNotFoundError, StorageError
from storage.metadata.engine import make_engine, redact_url
from storage.metadata.rows import DossierRow


class StoreBase:
    """The engine and the session factory every part of ``MetadataStore`` shares."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        """Open the database; bring its schema up to date first unless ``migrate`` is off."""
        from storage.migrate import upgrade_schema

        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            try:
                upgrade_schema(self.engine)
            except OperationalError as exc:
                self.engine.dispose()
                raise StorageError(f"cannot open database {redact_url(url)} ({exc.orig})") from None

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.flush()
            faults.point("metadata.before-commit")
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StorageError(f"database error ({type(exc).__name__}: {exc})") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @staticmethod
    def _row(session: Session, dossier_id: str) -> DossierRow:
        row = session.get(DossierRow, dossier_id)
        if row is None:
            raise DossierNotFoundError(dossier_id)
        return row
