"""Sample photos and English text that ship with libraries already installed."""
from __future__ import annotations

from pathlib import Path

PHOTO_LABEL = "library sample photos (matplotlib, scikit-learn)"
TEXT_LABEL = "CPython pydoc_data topics (embedded English text; not PTB)"


def sample_photo_paths() -> dict[str, Path]:
    """name -> path of the bundled photos: grace_hopper.jpg, china.jpg, flower.jpg."""
    import matplotlib
    import sklearn

    mpl_data = Path(matplotlib.get_data_path()) / "sample_data"
    skl_images = Path(sklearn.__file__).parent / "datasets" / "images"
    paths = {"grace_hopper": mpl_data / "grace_hopper.jpg", "china": skl_images / "china.jpg",
             "flower": skl_images / "flower.jpg"}
    return {name: path for name, path in paths.items() if path.is_file()}


def english_text() -> str:
    """About 465k characters of English prose: the help topics bundled with CPython."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[key] for key in sorted(topics))
