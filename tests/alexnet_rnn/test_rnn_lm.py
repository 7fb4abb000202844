"""Language model: beats the unigram baseline on a tiny corpus, greedy sampling, truncated BPTT, data."""
import json
import math

import pytest
import torch

from alexnet_rnn.lm_data import UNK, BPTTWindows, Vocab, build_vocab, load_corpus, split_text, tokenize
from alexnet_rnn.ngram import BigramCounts, baselines, unigram_perplexity
from alexnet_rnn.rnn_lm import RNNLM, TBPTTStep, embedding_distance, main, perplexities, sample
from common.engine import EngineConfig, Trainer
from common.errors import UserError
from common.schedule import WARMUP_CONSTANT


@pytest.fixture(scope="module")
def tiny_corpus():
    return load_corpus(None, "char", 200, max_chars=6000)


def test_short_training_beats_unigram_baseline(tiny_corpus):
    torch.manual_seed(0)
    corpus = tiny_corpus
    model = RNNLM(len(corpus.vocab), embed_size=16, hidden_size=48, cell="lstm")
    trainer = Trainer(model, torch.optim.Adam(model.parameters(), lr=0.01),
                      BPTTWindows(corpus.train, 8, 30), BPTTWindows(corpus.valid, 4, 30),
                      step_fn=TBPTTStep(), eval_step_fn=TBPTTStep(),
                      epoch_metrics_fn=perplexities,
                      cfg=EngineConfig(epochs=3, clip_grad=0.5, quiet=True, monitor="loss",
                                       monitor_mode="min", schedule=WARMUP_CONSTANT))
    history = trainer.fit()
    unigram = unigram_perplexity(corpus.train, corpus.valid, len(corpus.vocab))
    assert history[0]["val_ppl"] > history[-1]["val_ppl"]  # it learns
    assert history[-1]["val_ppl"] < unigram, (history[-1]["val_ppl"], unigram)
    assert math.isclose(history[-1]["val_ppl"], math.exp(history[-1]["val_loss"]))


def test_temperature_zero_is_greedy():
    torch.manual_seed(0)
    model = RNNLM(12, embed_size=4, hidden_size=8, cell="gru")
    prompt = torch.tensor([3])
    ids = sample(model, prompt, 10, temperature=0.0, generator=torch.Generator().manual_seed(1))
    expected, x, hidden = [], prompt.view(1, 1), None
    with torch.no_grad():
        for _ in range(10):
            logits, hidden = model(x, hidden)
            expected.append(int(logits[0, -1].argmax()))
            x = torch.tensor([[expected[-1]]])
    assert ids == expected
    assert sample(model, prompt, 10, temperature=1e-4, generator=torch.Generator().manual_seed(2)) == expected
    hot = {tuple(sample(model, prompt, 10, 5.0, torch.Generator().manual_seed(s))) for s in range(4)}
    assert len(hot) > 1  # a high temperature really samples


def test_hidden_state_is_carried_detached_and_reset():
    torch.manual_seed(0)
    model, step = RNNLM(10, embed_size=4, hidden_size=6, cell="lstm"), TBPTTStep()
    x = torch.randint(0, 10, (2, 5))
    first = step(model, (x, x, True)).loss
    assert all(h.grad_fn is None for h in step.hidden)  # detached: gradients stop at the window
    carried = step(model, (x, x, False)).loss
    reset = step(model, (x, x, True)).loss
    assert torch.allclose(first, reset) and not torch.allclose(first, carried)


def test_bptt_windows_shift_targets_and_skip():
    ids = torch.arange(101)
    windows = BPTTWindows(ids, batch_size=2, seq_length=7)
    batches = list(windows)
    assert len(batches) == len(windows) == 7  # 50 per stream -> 49 predictions -> ceil(49 / 7)
    inputs, targets, first = batches[0]
    assert first and inputs.shape == (2, 7) and torch.equal(targets, inputs + 1)
    assert not any(b[2] for b in batches[1:])
    assert torch.equal(torch.cat([b[0] for b in batches], 1)[0], torch.arange(49))
    windows.set_epoch(0, skip=3)
    resumed = list(windows)
    assert len(resumed) == 4 and resumed[0][2] and torch.equal(resumed[0][0], batches[3][0])


def test_vocab_cap_and_unk():
    vocab = build_vocab(tokenize("a a a b b c\nd", "word", pretokenized=True), max_size=3)
    assert vocab.itos[0] == UNK and len(vocab) == 3
    assert vocab.encode(["a", "zzz"]).tolist() == [vocab.stoi["a"], 0]
    assert Vocab(vocab.itos).stoi == vocab.stoi


def test_embedded_split_is_disjoint_and_contiguous():
    text = "para one.\n\npara two.\n\npara three.\n\npara four."
    train, valid = split_text(text, 0.2)
    assert train + valid == text and valid.startswith("\n\n") and len(valid) < len(train)


def test_ngram_baselines_on_predictable_text():
    ids = torch.tensor([1, 2, 3, 4] * 200)
    base = baselines(ids[:600], ids[600:], vocab_size=5)
    assert base["bigram_ppl"] < 1.5 < base["unigram_ppl"]
    counts = BigramCounts(ids[:600], 5)
    assert counts.pair_counts(torch.tensor([1, 1]), torch.tensor([2, 3])).tolist() == [150.0, 0.0]


def test_embedding_distance_and_unknown_word(tiny_corpus):
    model = RNNLM(len(tiny_corpus.vocab), embed_size=3, hidden_size=4)
    a, b = tiny_corpus.vocab.itos[1], tiny_corpus.vocab.itos[2]
    expected = (model.embed.weight[1] - model.embed.weight[2]).norm().item()
    assert embedding_distance(model, tiny_corpus.vocab, a, b) == pytest.approx(expected)
    with pytest.raises(UserError, match="not in the"):
        embedding_distance(model, tiny_corpus.vocab, a, "taxpayerzzz")


def test_cli_dry_run_and_bad_input(tmp_path, capsys):
    metrics = main(["--dry-run", "--max-chars", "4000", "--num-samples", "5", "--logdir", str(tmp_path / "run"),
                    "--quiet", "--distance", "the", "of", "--model", "rnn", "--prompt", "the"])
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["unigram_ppl"] > 1 and saved["bigram_ppl"] > 1 and len(saved["val_ppl_per_epoch"]) == 1
    assert saved["val_ppl_untrained"] > saved["val_ppl"]
    assert "distance_the_of" in saved and set(saved["samples"]) == {"0", "0.7", "1"}
    assert all(text.startswith("the ") for text in saved["samples"].values())
    assert "pydoc" in saved["data"] and metrics["model"] == "rnn"
    assert (tmp_path / "run" / "figures" / "perplexity.png").is_file()
    for argv, needle in ((["--data", str(tmp_path / "nope")], "data directory not found"),
                         (["--dry-run", "--max-chars", "4000", "--distance", "army", "taxpayer"], "not in the")):
        with pytest.raises(SystemExit) as err:
            main(argv + ["--logdir", str(tmp_path / "bad")])
        assert err.value.code == 2 and needle in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()  # failed before writing anything


def test_load_run_gives_back_the_trained_model(tmp_path):
    from alexnet_rnn.rnn_lm import load_run

    metrics = main(["--dry-run", "--max-chars", "4000", "--num-samples", "8", "--temperatures", "0",
                    "--distance", "the", "of", "--logdir", str(tmp_path / "run"), "--quiet"])
    model, vocab = load_run(tmp_path / "run")
    assert embedding_distance(model, vocab, "the", "of") == pytest.approx(metrics["distance_the_of"], rel=1e-6)
    greedy = vocab.decode(sample(model, vocab.encode(["<eos>"]), 8, temperature=0.0), "word")
    assert greedy == metrics["samples"]["0"]  # the run's own greedy sample, reproduced from the saved model
    with pytest.raises(UserError, match="not a finished"):
        load_run(tmp_path)
