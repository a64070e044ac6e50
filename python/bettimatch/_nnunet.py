"""nnU-Net folder layouts for `evaluate --nnunet`.

Predictions are ``CASE<file_ending>`` files (what nnU-Net's predict and validation write; its other
files there, such as ``summary.json`` or probability ``.npz``/``.pkl``, are not cases); ground truths
are ``labelsTr``/``labelsTs`` of ``nnUNet_raw/DatasetXXX`` (or ``gt_segmentations``), whose
``dataset.json`` gives the label names and the file ending. Both versions of ``dataset.json`` are
read: v2 (``"labels": {"background": 0, "liver": 1}``, ``"file_ending"``) and v1
(``"labels": {"0": "background", "1": "liver"}``, NIfTI files).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from ._io import EXTENSIONS, InputFileError, Listing, _unreadable_entry, printable

OTHER_ENDING = "other file ending"


@dataclass(frozen=True)
class Dataset:
    """What `evaluate` needs of a dataset.json: the class names by label value and the file ending."""

    path: Path
    names: Dict[int, str]
    file_ending: str

    @property
    def num_classes(self) -> int:
        return len(self.names)


def dataset_json_candidates(pred_dir: Path, gt_dir: Path) -> List[Path]:
    """Where nnU-Net keeps dataset.json, nearest first: next to labelsTr (nnUNet_raw/DatasetXXX),
    in the folders themselves, and two levels above a prediction folder
    (nnUNet_results/DatasetXXX/TRAINER__PLANS__CONFIG/fold_N/validation)."""
    places = [gt_dir, gt_dir.parent, pred_dir, pred_dir.parent, pred_dir.parent.parent]
    out: List[Path] = []
    for place in places:
        candidate = place / "dataset.json"
        if candidate not in out:
            out.append(candidate)
    return out


def find_dataset_json(pred_dir: Path, gt_dir: Path) -> Path:
    candidates = dataset_json_candidates(pred_dir, gt_dir)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise InputFileError(
        "--nnunet: no dataset.json found (looked in " + ", ".join(str(c.parent) for c in candidates) +
        "); give its path with --dataset-json"
    )


def _label_names(labels: object, path: Path) -> Dict[int, str]:
    if not isinstance(labels, dict) or not labels:
        raise InputFileError(f"{path}: 'labels' must be an object of label names and values")
    names: Dict[int, str] = {}
    v1 = all(isinstance(k, str) and k.strip().isdigit() and isinstance(v, str) for k, v in labels.items())
    for key, value in labels.items():
        name, label = (value, int(key)) if v1 else (key, value)
        if isinstance(label, list):
            raise InputFileError(
                f"{path}: label {name!r} is a region ({label}); region-based nnU-Net datasets are not supported "
                "(evaluate the label maps without --nnunet)"
            )
        if isinstance(label, bool) or not isinstance(label, int):
            raise InputFileError(f"{path}: label {name!r} has the value {label!r}; expected an integer")
        if name == "ignore":
            raise InputFileError(
                f"{path}: the dataset has an ignore label ({label}); evaluating with ignored pixels is not supported"
            )
        if label in names:
            raise InputFileError(f"{path}: labels {names[label]!r} and {name!r} share the value {label}")
        names[label] = str(name)
    if sorted(names) != list(range(len(names))):
        raise InputFileError(f"{path}: label values must be 0, 1, ..., {len(names) - 1} (nnU-Net's rule), got {sorted(names)}")
    return dict(sorted(names.items()))


def read_dataset_json(path: Path) -> Dataset:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputFileError(f"{path}: cannot read dataset.json ({exc})") from None
    if not isinstance(data, dict) or "labels" not in data:
        raise InputFileError(f"{path}: not an nnU-Net dataset.json (no 'labels')")
    names = _label_names(data["labels"], path)
    ending = data.get("file_ending", ".nii.gz")  # v1 datasets are NIfTI
    if not isinstance(ending, str) or not ending.startswith("."):
        raise InputFileError(f"{path}: file_ending must be a string such as '.nii.gz', got {ending!r}")
    if ending.lower() not in EXTENSIONS:
        raise InputFileError(f"{path}: file_ending {ending}: bettimatch reads {', '.join(EXTENSIONS)} files")
    return Dataset(path, names, ending)


def list_nnunet_cases(directory: Path, file_ending: str) -> Listing:
    """The cases of an nnU-Net folder: every ``CASE<file_ending>`` file. Hidden entries, folders
    and files of other endings are left out (listed in ``ignored``)."""
    if not directory.is_dir():
        raise InputFileError(f"{directory}: not a directory")
    listing = Listing()
    for entry in sorted(os.listdir(directory)):
        path = directory / entry
        if entry.startswith("."):
            listing.ignored.append((path, "hidden"))
        elif path.is_dir():
            listing.ignored.append((path, "folder"))
        elif not entry.endswith(file_ending) or len(entry) == len(file_ending):
            listing.ignored.append((path, OTHER_ENDING))
        else:
            case = entry[: -len(file_ending)]
            reason = _unreadable_entry(path, entry)
            if reason is None:
                listing.cases[case] = path
            else:
                listing.bad[printable(case)] = reason
    return listing


def resolve_dataset(pred_dir: Path, gt_dir: Path, dataset_json: Optional[Path]) -> Dataset:
    return read_dataset_json(dataset_json if dataset_json is not None else find_dataset_json(pred_dir, gt_dir))
