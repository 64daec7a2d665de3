"""CSV uploads from the dashboard: saved to a private folder, imported on a background thread,
with progress readable while the import runs (in this process)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from renraku.errors import RenrakuError
from renraku.services.imports import ImportOptions, Progress, run_import

if TYPE_CHECKING:
    from renraku.app import App

CHUNK = 1024 * 1024


@dataclass
class Upload:
    """One upload: where the import is, and its job once it has finished."""

    id: str
    app_id: str
    filename: str
    size: int
    progress: Progress = field(default_factory=Progress)
    done: bool = False
    job: dict[str, Any] | None = None
    error: str | None = None


def safe_filename(name: str) -> str:
    """The last path part of an uploaded name, without characters that mean something to a
    filesystem or a shell; never empty."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    clean = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*\x00').strip(". ")
    return clean[:120] or "upload.csv"


class Uploads:
    """Uploads of this process, by id (the newest hundred are kept)."""

    def __init__(self, app: App, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: dict[str, Upload] = {}
        self._folder: Path | None = None

    @property
    def _root(self) -> Path:
        """A private folder for this process's uploads, made on first use and removed when the
        process ends."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="renraku-uploads-"))
            weakref.finalize(self, shutil.rmtree, self._folder, True)
        return self._folder

    def get(self, upload_id: str) -> Upload | None:
        with self._lock:
            return self._items.get(upload_id)

    def save(self, app_id: str, filename: str, stream: IO[bytes]) -> Upload:
        """Copy the uploaded bytes to a private file; RenrakuError when too large or empty."""
        from renraku.errors import InvalidInput, Problem

        upload_id = uuid.uuid4().hex
        folder = self._root / upload_id
        folder.mkdir()
        path = folder / safe_filename(filename)
        size = 0
        with path.open("wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    out.close()
                    shutil.rmtree(folder, ignore_errors=True)
                    raise InvalidInput(
                        [Problem("file", f"larger than {self.max_bytes} bytes")], subject="upload"
                    )
                out.write(chunk)
        if size == 0:
            shutil.rmtree(folder, ignore_errors=True)
            raise InvalidInput([Problem("file", "the file is empty")], subject="upload")
        upload = Upload(upload_id, app_id, path.name, size)
        with self._lock:
            self._items[upload_id] = upload
            while len(self._items) > 100:
                self._items.pop(next(iter(self._items)))
        return upload

    def start(self, upload: Upload, *, segment_name: str | None = None) -> None:
        """Import the saved file on a background thread."""
        path = self._root / upload.id / upload.filename
        thread = threading.Thread(
            target=self._run, args=(upload, path, segment_name), daemon=True, name="ui-import"
        )
        thread.start()

    def _run(self, upload: Upload, path: Path, segment_name: str | None) -> None:
        def progress(p: Progress) -> None:
            upload.progress = Progress(**vars(p))

        try:
            options = ImportOptions(source=str(path), format="CSV", segment_name=segment_name)
            upload.job = run_import(self.app, upload.app_id, options, progress=progress)
        except RenrakuError as exc:
            upload.error = str(exc)
        except Exception as exc:  # a background thread must report, not vanish
            upload.error = f"import failed: {exc}"
        finally:
            upload.done = True
            shutil.rmtree(path.parent, ignore_errors=True)

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
