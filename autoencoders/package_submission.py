"""Write the autoencoders hand-in (handout section 3): the code, ``wet.pdf`` and ``dry.pdf`` in one zip.

    python -m autoencoders.package_submission --out 123456789-987654321.zip     # <id1>-<id2>.zip

The zip holds ``autoencoders/`` (main.py, the models, losses, training and utils.py with
``plot_tsne``, and the READMEs) with ``common/``, the engine they import; ``wet.pdf`` (every
``##`` section of autoencoders/ANSWERS.md not headed "Dry": wet items 1-5 with the
reconstructions, interpolations and t-SNE figures from the committed ``autoencoders/results/``)
and ``dry.pdf`` (the "Dry" sections), both rendered offline.  Missing results stop it with the
command that makes them; an existing zip is never overwritten.
"""
from __future__ import annotations

from pathlib import Path

from common.errors import cli_main
from common.submission import wet_dry_main

FOLDER = Path(__file__).resolve().parent


@cli_main
def main(argv=None) -> Path:
    return wet_dry_main(argv, __doc__, FOLDER, "236781 autoencoders mini-project")


if __name__ == "__main__":
    main()
