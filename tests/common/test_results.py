"""common.results: generated doc blocks are rewritten from the results and stale ones are caught."""
import pytest

from common.errors import UserError
from common.results import ResultsDir, find_blocks, image_links, replace_blocks, stale_blocks, sync_docs, table

DOC = "intro\n<!-- results:acc -->\nold\n<!-- /results:acc -->\nmiddle\n<!-- results:fig -->\n<!-- /results:fig -->\n"


def test_table_formats_cells():
    text = table(["model", "acc"], [["a", 91.456789], ["b", None], ["c", True]])
    assert text.splitlines() == ["| model | acc |", "|---|---|", "| a | 91.46 |", "| b | – |", "| c | yes |"]


def test_blocks_round_trip_and_only_named_blocks_change():
    assert find_blocks(DOC) == {"acc": "old\n", "fig": ""}
    new = replace_blocks(DOC, {"acc": "| new |"})
    assert find_blocks(new) == {"acc": "| new |\n", "fig": ""}
    assert new.startswith("intro\n") and "middle\n" in new


def test_sync_rewrites_and_stale_detects(tmp_path):
    doc = tmp_path / "ANSWERS.md"
    doc.write_text(DOC)
    blocks = {"acc": "| 1 |\n", "fig": "x\n"}
    assert stale_blocks([doc], blocks) == [f"{doc}: acc", f"{doc}: fig"]
    assert sync_docs([doc], blocks) == [doc]
    assert stale_blocks([doc], blocks) == []
    assert sync_docs([doc], blocks) == []  # idempotent
    with pytest.raises(UserError, match="typo"):
        sync_docs([doc], {**blocks, "typo": "y"})


def test_figures_carry_captions_and_links_resolve(tmp_path):
    from common.plotting import plot_accuracy_vs_epsilon  # any helper that records a caption

    run = tmp_path / "run"
    src = plot_accuracy_vs_epsilon({"model": {0.0: 90.0, 0.1: 40.0}}, run / "acc.png", title="t",
                               caption="accuracy vs epsilon on toy data")
    res = ResultsDir(tmp_path / "folder" / "results")
    res.add_figure(src, "acc_vs_eps.png")
    md = res.figure_markdown("acc_vs_eps.png", tmp_path / "folder")
    assert md.startswith("![accuracy vs epsilon on toy data](results/figures/acc_vs_eps.png)")
    doc = tmp_path / "folder" / "ANSWERS.md"
    doc.write_text(md)
    assert image_links(doc) == [(tmp_path / "folder" / "results" / "figures" / "acc_vs_eps.png").resolve()]
    with pytest.raises(UserError, match="missing"):
        res.read_json("nope")


def test_figures_are_compressed_and_checked(tmp_path):
    import numpy as np
    from PIL import Image

    from common.plotting import plot_confusion_matrix
    from common.results import figure_problems, tree_bytes

    src = plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], ["a", "b", "c"], tmp_path / "run" / "cm.png",
                                title="t", caption="confusion on toy labels")
    res = ResultsDir(tmp_path / "results")
    out = res.add_figure(src)
    assert out.stat().st_size < src.stat().st_size and figure_problems(out) == []
    assert res.figure_names() == ["cm.png"] and tree_bytes([res.path]) > out.stat().st_size
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((20, 20, 3), 255, np.uint8)).save(blank)
    assert "blank" in figure_problems(blank)[0]
    assert "bytes" in figure_problems(out, max_bytes=10)[0]
    assert "missing" in figure_problems(tmp_path / "none.png")[0]


def test_results_main_quick_leaves_committed_results_and_docs_alone(tmp_path, monkeypatch):
    import common.results as cr

    monkeypatch.setattr(cr, "REPO", tmp_path)
    doc = tmp_path / "a" / "README.md"
    doc.parent.mkdir()
    doc.write_text("<!-- results:n -->\nold\n<!-- /results:n -->\n")
    committed = ResultsDir(tmp_path / "a" / "results")

    def run(results, workdir, quick, device):
        assert quick and device == "cpu" and workdir.is_dir()
        results.write_json("m", {"n": 3})

    def blocks(results):
        return {"n": f"n = {results.read_json('m')['n']}\n"}

    kwargs = dict(assignment="a", description="d", results=committed, docs=[doc], blocks=blocks, run=run)
    quick = cr.results_main(["--quick", "--device", "cpu"], **kwargs)
    assert quick.path != committed.path and (quick.path / "blocks.md").read_text().count("n = 3") == 1
    assert not committed.path.exists() and "old" in doc.read_text()
    assert cr.results_main(["--docs-only"], **{**kwargs, "results": quick}) is quick
    assert "n = 3" in doc.read_text()


def test_brackets_in_a_caption_keep_the_image_link_intact(tmp_path):
    from common.plotting import plot_accuracy_vs_epsilon

    src = plot_accuracy_vs_epsilon({"m": {0.1: 50.0}}, tmp_path / "run" / "a.png", title="t",
                                   caption="MAE in [0, 1] pixel units; toy data")
    res = ResultsDir(tmp_path / "folder" / "results")
    res.add_figure(src)
    doc = tmp_path / "folder" / "README.md"
    doc.write_text(res.figure_markdown("a.png", doc.parent))
    assert image_links(doc) == [(res.figures / "a.png").resolve()]
    assert "*MAE in [0, 1] pixel units; toy data*" in doc.read_text()
