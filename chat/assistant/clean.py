"""Validation of requirements a client sends (seed 001's `requirements_json`, an edited
requirements card, a model's structured output): an object of known fields with sane types, and
sizes that can be made, whether listed in `dimensions` or written in the text."""

import math
import re

from django.core.exceptions import ValidationError

from pipeline.engines.scad.requirements import UNIT_MM, requirements_from_prompt
from pipeline.engines.scad.templates import FC_STACKS, SCREW_CLEARANCE_MM

from .scad import FEATURE_KEYS, PROP_NAMES, size_key

MAX_SIZE_MM = 2000.0  # nothing the printers here make is larger than 2 m
MAX_TEXT = 4000
REQUIREMENT_KEYS = {
    "model_type", "primary_function", "description_natural_language", "standard_components", "custom_description",
    "dimensions", "open_questions", "assumptions", "features", "material",
}


def _fmt(value: float) -> str:
    return f"{round(float(value), 2):g}"


def _invalid(path: str, message: str) -> ValidationError:
    return ValidationError({"requirements_json": [f"{path}: {message}"]})


def _check_size(path: str, value_mm: float) -> None:
    if not math.isfinite(value_mm) or value_mm <= 0:
        raise _invalid(path, f"{_fmt(value_mm) if math.isfinite(value_mm) else value_mm} mm is not a size that can be made; sizes must be more than 0 mm.")
    if value_mm > MAX_SIZE_MM:
        raise _invalid(path, f"{_fmt(value_mm)} mm is larger than the {MAX_SIZE_MM:g} mm anything here can be printed at.")


def _number(path: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(path, "must be a number.")
    return float(value)


def _clean_features(features) -> dict:
    if not isinstance(features, dict):
        raise _invalid("features", "must be an object.")
    unknown = sorted(set(features) - FEATURE_KEYS)
    if unknown:
        raise _invalid("features", f"unknown feature {', '.join(unknown)}; known: {', '.join(sorted(FEATURE_KEYS))}.")
    out = {}
    for key, value in features.items():
        path = f"features.{key}"
        if value is None:
            continue
        if key == "prop_in":
            value = _number(path, value)
            if not 1 <= value <= 15:
                raise _invalid(path, "props are between 1 and 15 inches.")
        elif key == "fc_mount":
            value = _number(path, value)
            if value not in FC_STACKS:
                raise _invalid(path, f"must be one of {', '.join(_fmt(s) for s in FC_STACKS)} mm.")
        elif key in ("screw", "fc_screw", "motor_screw"):
            value = str(value).upper()
            if value not in SCREW_CLEARANCE_MM:
                raise _invalid(path, f"must be one of {', '.join(SCREW_CLEARANCE_MM)}.")
        elif key == "motor_class":
            value = _number(path, value)
            if not (8 <= value <= 60 and value == int(value)):
                raise _invalid(path, "must be the first two digits of the motor size, 8 to 60 (22 for a 2207).")
            value = int(value)
        elif key == "motor_mount":
            if not isinstance(value, list) or len(value) != 2:
                raise _invalid(path, "must be two distances in mm, e.g. [16, 19].")
            value = [_number(path, v) for v in value]
            if not all(6 <= v <= 40 for v in value):
                raise _invalid(path, "motor bolt patterns are between 6 and 40 mm.")
        elif key in ("lid", "backrest"):
            if not isinstance(value, bool):
                raise _invalid(path, "must be true or false.")
        elif key in ("drainage_holes", "shelves"):
            value = _number(path, value)
            if not (0 <= value <= 20 and value == int(value)):
                raise _invalid(path, "must be a whole number from 0 to 20.")
            value = int(value)
        elif key in ("shape", "vessel"):
            allowed = {"shape": ("round", "rectangular"), "vessel": ("vase", "cup", "mug")}[key]
            if value not in allowed:
                raise _invalid(path, f"must be one of {', '.join(allowed)}.")
        out[key] = value
    return out


def requirements_clean(requirements_json) -> dict:
    """Validate requirements a client sent (an edited card, seed 001's requirements_json).
    Raises ValidationError on `requirements_json` naming the field at fault: not an object,
    unknown keys, wrong types, and sizes that cannot be made (0 mm, negative, over 2 m), whether
    in `dimensions` or written in the text."""
    if not isinstance(requirements_json, dict):
        raise ValidationError({"requirements_json": ["Must be a JSON object."]})
    unknown = sorted(set(requirements_json) - REQUIREMENT_KEYS)
    if unknown:
        raise _invalid(", ".join(unknown), f"unknown field; known fields: {', '.join(sorted(REQUIREMENT_KEYS))}.")
    clean: dict = {}
    for key in ("model_type", "primary_function", "description_natural_language", "custom_description", "material"):
        value = requirements_json.get(key)
        if value is None:
            clean[key] = None if key in ("model_type", "material") else ""
            continue
        if not isinstance(value, str):
            raise _invalid(key, "must be a string.")
        if len(value) > MAX_TEXT:
            raise _invalid(key, f"at most {MAX_TEXT} characters.")
        clean[key] = value.strip()
        if key in ("custom_description", "primary_function", "description_natural_language"):
            for axis, size in requirements_from_prompt(value)["dimensions"].items():
                _check_size(f"{key} ({axis.replace('_', ' ')})", size)
    components = requirements_json.get("standard_components") or []
    if not isinstance(components, list) or len(components) > 50:
        raise _invalid("standard_components", "must be a list of at most 50 {name, search_term} objects.")
    clean["standard_components"] = []
    for i, component in enumerate(components):
        if not isinstance(component, dict) or not isinstance(component.get("name"), str) or not component["name"].strip():
            raise _invalid(f"standard_components[{i}]", "must be an object with a name.")
        term = component.get("search_term", "")
        if not isinstance(term, str) or len(component["name"]) > 200 or len(term) > 200:
            raise _invalid(f"standard_components[{i}]", "name and search_term are strings of at most 200 characters.")
        clean["standard_components"].append({"name": component["name"].strip(), "search_term": term.strip()})
    dimensions = requirements_json.get("dimensions") or []
    if not isinstance(dimensions, list) or len(dimensions) > 50:
        raise _invalid("dimensions", "must be a list of at most 50 {name, value, unit} objects.")
    clean["dimensions"] = []
    for i, dim in enumerate(dimensions):
        path = f"dimensions[{i}]"
        if not isinstance(dim, dict) or not isinstance(dim.get("name"), str) or not dim["name"].strip():
            raise _invalid(path, "must be an object with a name, a value and a unit.")
        path = f"dimensions.{dim['name'].strip()}"
        unit = str(dim.get("unit") or "mm").lower()
        if unit not in ("mm", "cm", "m", "in"):
            raise _invalid(path, "unit must be mm, cm, m or in.")
        value = _number(path, dim.get("value"))
        value_mm = round(value * UNIT_MM[unit], 3)
        if dim.get("value_mm") is not None and abs(_number(path, dim["value_mm"]) - value_mm) > max(0.01, value_mm * 0.001):
            raise _invalid(path, f"value_mm {dim['value_mm']} does not match {_fmt(value)} {unit}.")
        _check_size(path, value_mm)
        entry = {"name": dim["name"].strip(), "value": value, "unit": unit, "value_mm": value_mm}
        for extra in ("label", "source"):
            if isinstance(dim.get(extra), str):
                entry[extra] = dim[extra][:100]
        if size_key(entry["name"]) is None and re.sub(r"[\s-]+", "_", entry["name"].lower()) not in PROP_NAMES:
            raise _invalid(path, "unknown size name.")
        clean["dimensions"].append(entry)
    clean["features"] = _clean_features(requirements_json.get("features") or {})
    for key in ("open_questions", "assumptions"):
        items = requirements_json.get(key) or []
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items) or len(items) > 50:
            raise _invalid(key, "must be a list of strings.")
        clean[key] = [item[:MAX_TEXT] for item in items]
    return clean
