"""Write the functaset hand-in (handout section 3): the code, ``wet.pdf`` and ``dry.pdf`` in one zip.

    python -m functaset.package_submission --out 123456789-987654321.zip     # <id1>-<id2>.zip

The zip holds ``functaset/`` (classifier.py, attack.py, the classifier models, the robust
training of the bonus, the functaset builder and their READMEs) with ``common/``, the engine
they import; ``wet.pdf`` (every ``##`` section of functaset/ANSWERS.md not headed "Dry": the wet
report items 1-10 with their figures and tables from the committed ``functaset/results/``) and
``dry.pdf`` (the "Dry" sections), both rendered offline.  Missing results stop it with the
command that makes them; an existing zip is never overwritten.
"""
from __future__ import annotations

from pathlib import Path

from common.errors import cli_main
from common.submission import wet_dry_main

FOLDER = Path(__file__).resolve().parent


@cli_main
def main(argv=None) -> Path:
    return wet_dry_main(argv, __doc__, FOLDER, "236781 functaset mini-project")


if __name__ == "__main__":
    main()
