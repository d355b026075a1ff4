"""Convert ACSF1 from the aeon 1.6.0 wheel into ``data/acsf1.npz`` (run once; kept for the record).

Source: the wheel ``aeon-1.6.0-py3-none-any.whl`` on PyPI (sha256 below), members
``aeon/datasets/data/ACSF1/ACSF1_TRAIN.ts`` and ``ACSF1_TEST.ts``: the UCR archive's
ACSF1 in the sktime/aeon ``.ts`` text format (comment lines, ``@`` header lines, then one
series per line as comma-separated values followed by ``:label``).

Reproduce (no aeon installation needed, only the wheel file)::

    pip download --no-deps aeon==1.6.0 -d /tmp/aeon
    python data/convert_acsf1.py /tmp/aeon/aeon-1.6.0-py3-none-any.whl

The output holds float32 ``x_train``/``x_test`` ``[100, 1460]`` and int8 ``y_train``/``y_test``
``[100]``, written with fixed zip timestamps so the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

WHEEL_SHA256 = "d05227086706f80111ac5fee8de4d5d3115bb3bcfd1c786c8629393055816409"
MEMBERS = {
    "train": ("aeon/datasets/data/ACSF1/ACSF1_TRAIN.ts",
              "0646b90dc4843e02baed6b2ba345c5601a4991b6796565489cef1b2d92a7537b"),
    "test": ("aeon/datasets/data/ACSF1/ACSF1_TEST.ts",
             "93e8aaeb44a10af181d24a156e60da7021193cd990ca28f263fccf3b905bfebf"),
}
SEQ_LEN, N_CLASSES, N_PER_SPLIT = 1460, 10, 100
OUT = Path(__file__).resolve().parent / "acsf1.npz"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_ts(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a univariate, equal-length ``.ts`` file into ``x [n, T]`` and ``y [n]``."""
    rows, labels, in_data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "@data":
            in_data = True
            continue
        if line.startswith("@") or not in_data:
            continue
        values, label = line.rsplit(":", 1)
        rows.append([float(v) for v in values.split(",")])
        labels.append(int(label))
    x = np.asarray(rows, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if x.shape != (N_PER_SPLIT, SEQ_LEN) or not np.isfinite(x).all():
        raise ValueError(f"unexpected series block {x.shape}; expected ({N_PER_SPLIT}, {SEQ_LEN})")
    if sorted(set(y.tolist())) != list(range(N_CLASSES)):
        raise ValueError(f"unexpected labels {sorted(set(y.tolist()))}")
    return x.astype(np.float32), y.astype(np.int8)


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as a compressed ``.npz`` with fixed timestamps (byte-reproducible)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue(), compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to aeon-1.6.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT})")
    args = parser.parse_args(argv)
    wheel_bytes = args.wheel.read_bytes()
    if sha256(wheel_bytes) != WHEEL_SHA256:
        parser.error(f"{args.wheel} is not the aeon 1.6.0 wheel (sha256 differs)")
    arrays = {}
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wheel:
        for split, (member, digest) in MEMBERS.items():
            raw = wheel.read(member)
            if sha256(raw) != digest:
                parser.error(f"{member}: sha256 differs from the pinned value")
            arrays[f"x_{split}"], arrays[f"y_{split}"] = parse_ts(raw.decode("utf-8"))
    write_npz(args.out, arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes), "
          f"sha256 {sha256(args.out.read_bytes())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
