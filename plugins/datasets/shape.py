"""Reading dataset files and saying exactly where they go wrong.

Every shape error names the file and the first bad path inside it, such as
``captions_val2017.json: annotations[3].caption: missing``, so a user can open
the file and go straight to the problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from instructgen.errors import UserError


class DatasetError(UserError):
    """A dataset file that is missing, unreadable or not the expected shape."""


def require_file(path: Path, option: str = "source.path") -> Path:
    """The path, or an error naming the option when there is no such file."""
    if not path.is_file():
        raise DatasetError(f"{option}: file not found: {path}")
    return path


def load_json(path: Path) -> Any:
    """Parse a whole JSON document (these formats cannot be streamed with json)."""
    require_file(path)
    try:
        with path.open("rb") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from None


def shape_error(path: Path, where: str, problem: str) -> DatasetError:
    """``file: where: problem``, the one-line message for a badly shaped file."""
    return DatasetError(f"{path}: {where or '(top level)'}: {problem}")


def kind_of(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def expect_list(path: Path, value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise shape_error(path, where, f"expected a list, got {kind_of(value)}")
    return value


def expect_object(path: Path, value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise shape_error(path, where, f"expected an object, got {kind_of(value)}")
    return value


def expect_key(path: Path, obj: Mapping[str, Any], key: str, where: str) -> Any:
    """``obj[key]``, or an error naming ``where.key`` as missing."""
    if key not in obj:
        raise shape_error(path, join(where, key), "missing")
    return obj[key]


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def first_key(row: Mapping[str, Any], candidates: tuple[str, ...]) -> str | None:
    """The first candidate column present in ``row``."""
    return next((c for c in candidates if c in row), None)


#: Column names that usually hold an image path or file name, in order of preference.
IMAGE_COLUMNS = ("image_file", "image", "file_name", "filename", "image_path", "path")
#: Column names that usually hold an image URL.
URL_COLUMNS = ("url", "URL", "image_url", "img_url")


def image_fields(image_file: Any = None, url: Any = None) -> dict[str, Any]:
    """The item's image reference, leaving out what the dataset does not have."""
    out: dict[str, Any] = {}
    if image_file not in (None, ""):
        out["image_file"] = image_file if isinstance(image_file, str) else str(image_file)
    if url not in (None, ""):
        out["url"] = url if isinstance(url, str) else str(url)
    return out


def usable_caption(value: Any) -> bool:
    """A non-empty string; anything else is passed on for the generator to reject."""
    return isinstance(value, str) and bool(value.strip())
