"""The runbook notebooks and their declared parameters (`name: type = default  # help`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from hopngo_ops.errors import HopngoError, NotFound


class ParameterError(HopngoError, ValueError):
    """A parameter the notebook does not declare, or a value of the wrong type."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    default: str
    help: str


# How a declared type checks a value, and how a command-line string becomes one.
_TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list}


def notebooks_dir() -> Path:
    return Path(
        os.environ.get("HOPNGO_NOTEBOOKS_DIR", Path(__file__).resolve().parents[1] / "notebooks")
    )


def list_notebooks() -> dict[str, Path]:
    return {p.stem: p for p in sorted(notebooks_dir().glob("*.ipynb"))}


def notebook_path(name: str) -> Path:
    notebooks = list_notebooks()
    if name not in notebooks:
        raise NotFound(f"no notebook {name!r}; the notebooks are: {', '.join(notebooks)}")
    return notebooks[name]


def parameters_of(name: str) -> dict[str, Parameter]:
    """The parameters cell's declarations, as papermill reads them."""
    from papermill import inspect_notebook

    declared = inspect_notebook(str(notebook_path(name)))
    return {
        key: Parameter(key, p["inferred_type_name"], p["default"], p["help"])
        for key, p in declared.items()
    }


def coerce_parameters(name: str, given: dict[str, object]) -> dict[str, object]:
    """Check `given` against the notebook's declarations; strings from a CLI become typed."""
    declared = parameters_of(name)
    if unknown := sorted(set(given) - set(declared)):
        raise ParameterError(
            f"{name} has no parameter {', '.join(unknown)}; its parameters are: "
            f"{', '.join(declared)} (see `hopngo-ops notebooks`)"
        )
    return {key: _typed(declared[key], value) for key, value in given.items()}


def _typed(parameter: Parameter, value: object) -> object:
    expected = _TYPES.get(parameter.type)
    if expected is None or parameter.type == "str":
        if not isinstance(value, str):
            raise _wrong_type(parameter, value)
        return value
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as err:
            raise _wrong_type(parameter, value) from err
    # bool is an int to Python; a flag given for a number is still a mistake.
    if not isinstance(value, expected) or (parameter.type != "bool" and isinstance(value, bool)):
        raise _wrong_type(parameter, value)
    return value


def _wrong_type(parameter: Parameter, value: object) -> ParameterError:
    return ParameterError(
        f"parameter {parameter.name} must be {parameter.type} ({parameter.help}), got {value!r}"
    )
