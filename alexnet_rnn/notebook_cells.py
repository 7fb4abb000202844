# ruff: noqa: E402  (each cell imports what it uses at its top, as a notebook does)
# The cells of assignment2.ipynb after its inlined library code, in the percent format ("# %%" starts a
# code cell, "# %% [markdown]" a markdown cell whose lines are comments).  `python -m alexnet_rnn.build_notebook`
# turns this file into the notebook: the repository imports below are removed and replaced by the code of
# every definition they reach (common/inline.py), so the notebook runs where this repository is absent.
# Run as a script (python -m alexnet_rnn.notebook_cells) it does what the notebook does, against the package.

# %% [markdown]
# # COMP 499/691 Assignment 2: programming answers (Q1 b-c, Q2, Q4 d)
#
# One standalone notebook: the code above the answers is this repository's own code (the AlexNet
# helpers, the attack, the language model and the training loop it runs on), inlined by
# `python -m alexnet_rnn.build_notebook`, so the notebook needs only pip packages (torch,
# torchvision, numpy, matplotlib, scikit-learn for the sample photos, tqdm). The written answers
# (Q1(a) with its work, Q2(a), Q3, Q4(b-c)) are in the PDF.
#
# **What the outputs below can and cannot show.** This copy was executed offline on a CPU.
# Without the ImageNet weights (they cannot be downloaded there) AlexNet has **random weights**:
# the class names, the confidence of about 0.1% and the targets reached show that the code works
# (resizing, normalisation, class names, an L1 attack that reaches any class with a small change,
# saved PNGs that keep their class), not what a trained AlexNet sees in the photos, nor how hard a
# trained AlexNet is to fool. With random weights almost every photo gets the same class, so the
# weights are drawn with seed 13, the first seed under which the three photos get different classes.
# Without Penn Treebank in `data/ptb/` the language model trains on CPython's help text (English,
# **not PTB**), at CPU size. On a machine with the weights cached and a GPU the same cells run the
# course settings.
#
# Settings (environment variables): `A2_SETTINGS=quick|cpu|course` (default: course on a GPU, else
# cpu), `A2_WEIGHTS=imagenet|random|PATH` (default: imagenet when cached, else random), `A2_PTB=DIR`
# (PTB `train.txt`, `valid.txt`), `A2_OUT=DIR` (figures and saved examples, default
# `assignment2_outputs`).

# %% [setup]
import warnings

# tqdm's notebook bars need ipywidgets; progress bars are off here anyway (no terminal), so its warning is noise.
warnings.filterwarnings("ignore", message="IProgress not found")

# %%
import os
import warnings
from pathlib import Path

import torch
from IPython.display import Image, display

from alexnet_rnn.predict import RANDOM_INIT_SEED, palette_png, pretrained_available

warnings.filterwarnings("ignore", message=".*weights_only.*")  # torch.load notes; every load here passes it
SETTINGS = os.environ.get("A2_SETTINGS") or ("course" if torch.cuda.is_available() else "cpu")
assert SETTINGS in ("quick", "cpu", "course"), f"A2_SETTINGS={SETTINGS}: use quick, cpu or course"
QUICK = SETTINGS == "quick"
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
OUT = Path(os.environ.get("A2_OUT") or "assignment2_outputs")
OUT.mkdir(parents=True, exist_ok=True)
PTB = Path(os.environ.get("A2_PTB") or "data/ptb")
HAVE_PTB = (PTB / "train.txt").is_file() and (PTB / "valid.txt").is_file()
WEIGHTS = os.environ.get("A2_WEIGHTS") or ("imagenet" if pretrained_available() else "random")
SEED = RANDOM_INIT_SEED if WEIGHTS == "random" else 0
print(f"settings: {SETTINGS}; device: {DEVICE}; AlexNet weights: {WEIGHTS}"
      + (f" (RANDOM, init seed {SEED}: the labels are meaningless)" if WEIGHTS == "random" else ""))
print(f"language-model text: {'Penn Treebank' if HAVE_PTB else 'embedded English text (pydoc topics), NOT PTB'}")


def show(path):
    display(Image(filename=str(palette_png(path))))  # 256 colours: a third of the bytes in this file


# %% [markdown]
# ## Q1(a) Receptive fields (the work is in the PDF)
#
# Layers 1-4 of the handout's diagram are the outputs of conv1, max-pool1, conv2 and max-pool2;
# the centre is unit `n // 2` (27 of 55), 1-based. Each line is checked by two independent
# measurements (the input gradient with average pools, line impulses through the real max pools).

# %%
from alexnet_rnn.receptive_field import report_convention

fields, rows, masks = report_convention("handout", check=True)

# %% [markdown]
# ## Q1(b) AlexNet's top prediction with the class name above each image
#
# `load_classifier` builds torchvision's AlexNet (ImageNet weights through the weights API, a
# state_dict file, or random weights), wrapped so it takes 224x224 images in [0, 1] and normalises
# them itself; `show_predictions` prints the top-5 classes by name and draws each image with
# "class (confidence)" above it. Photos that ship with matplotlib (Grace Hopper) and scikit-learn
# (a Chinese pagoda, a flower).

# %%
from alexnet_rnn.predict import default_images, load_classifier, load_image, show_predictions
from common.embedded.samples import PHOTO_LABEL

torch.manual_seed(SEED)
clf = load_classifier(WEIGHTS, DEVICE)
photos = default_images()
images = torch.stack([load_image(path) for path in photos.values()])  # (3, 3, 224, 224) in [0, 1]
predictions = show_predictions(clf, photos, images, OUT / "q1b_predictions.png", data=PHOTO_LABEL)
show(OUT / "q1b_predictions.png")

# %% [markdown]
# ## Q1(c) Targeted adversarial examples
#
# The handout's `max_r alpha ||r||_1 + l(f(x + r), y_p)` is read as the attack it describes:
# minimise `alpha ||r||_1 + CE(f(x + r), y_p)` over `r` with Adam (lr 0.01), keeping `x + r` a
# valid image, and stop as soon as the 8-bit image `x + r` is classified as `y_p`. `alpha` is set
# per example from the size of the input gradient, so it suits random and trained weights alike.
# Two photos of different content (a person, a building), three target classes each (quick
# settings: one target, larger steps). Every example is saved as a 224x224 PNG and a `.pt` tensor,
# read back, and shown with the tool of (b).

# %%
from alexnet_rnn.adversarial import attack_images, report_attacks

chosen = {name: photos[name] for name in ("grace_hopper", "china")}
targets = ["goldfish"] if QUICK else ["goldfish", "pizza", "airliner"]
attacks = attack_images(clf, torch.stack([load_image(p) for p in chosen.values()]), targets,
                        lr=0.1 if QUICK else 0.01, max_steps=10 if QUICK else (60 if WEIGHTS == "random" else 300))
attack = report_attacks(attacks, clf, list(chosen), OUT / "q1c_examples", lambda name: OUT / f"q1c_{name}.png",
                        data=PHOTO_LABEL, settings="alpha auto, Adam lr 0.1" if QUICK else "alpha auto, Adam lr 0.01")
for row in attack["rows"]:
    print(f"{row['image']} -> {row['target']}: the saved PNG is classified as {row['png_class']}")
show(OUT / "q1c_adversarial_examples.png")  # the perturbations, amplified: q1c_adv_<photo>_to_<target>.png

# %% [markdown]
# ## Q2 The LSTM language model
#
# The course model and loop: embedding 128, one LSTM layer of 1024, vocabulary 10,000, batch 20,
# 30-token windows with the hidden state detached between windows, Adam 0.002, gradient clip 0.5,
# 5 epochs, run by the shared training loop (the `Trainer` above). On a CPU without PTB the cell
# trains a smaller model (hidden 256, 1 epoch) on the embedded text; quick settings: a tiny model on
# 8k characters, which does not beat the baselines. Validation perplexity is compared with unigram
# and bigram baselines on the same split.

# %%
from alexnet_rnn.lm_data import load_corpus
from alexnet_rnn.ngram import baselines
from alexnet_rnn.rnn_lm import build_parser, check_args, loss_figure, train_language_model
from common.cli import RunContext

flags = {"quick": ["--dry-run", "--max-chars", "8000"], "cpu": ["--hidden-size", "256", "--epochs", "1"],
         "course": []}[SETTINGS] + (["--data", str(PTB)] if HAVE_PTB else [])
args = build_parser().parse_args(flags)
check_args(args)
corpus = load_corpus(args.data, args.level, args.vocab_size, valid_fraction=args.valid_fraction,
                     max_chars=args.max_chars or None)
base = baselines(corpus.train, corpus.valid, len(corpus.vocab))
print(f"{corpus.label}: {len(corpus.train):,} training tokens, vocabulary {len(corpus.vocab):,}")
torch.manual_seed(args.seed)
model, trainer, untrained = train_language_model(args, RunContext.local(DEVICE), corpus)
print(f"validation perplexity: untrained {untrained:.1f}, per epoch "
      + ", ".join(f"{h['val_ppl']:.2f}" for h in trainer.history)
      + f"; smoothed unigram {base['unigram_ppl']:.2f}, interpolated bigram {base['bigram_ppl']:.2f}")
loss_figure(trainer.step_fn, trainer.history, OUT / "q2_loss.png", name=f"LSTM ({args.level})", data=corpus.label)
show(OUT / "q2_loss.png")

# %% [markdown]
# ### Q2(a) Truncated back-propagation through time and `detach()`
#
# The answer is in the PDF. The computational graph, and the activations one update keeps for the
# backward pass with and without `detach()`, measured with autograd's saved-tensor hooks (course
# sizes; quick settings: tiny sizes):

# %%
from alexnet_rnn.bptt import graph_figure, measure, report_memory
from alexnet_rnn.rnn_lm import RNNLM

sizes = (dict(vocab_size=200, embed_size=16, hidden_size=32, batch_size=4, window=10) if QUICK else
         dict(vocab_size=10000, embed_size=128, hidden_size=1024, batch_size=20, window=30))
lstm = RNNLM(sizes["vocab_size"], embed_size=sizes["embed_size"], hidden_size=sizes["hidden_size"]).to(DEVICE)
memory = measure(lstm, sizes["batch_size"], sizes["window"], [1, 3] if QUICK else [1, 2, 4, 8], sizes["vocab_size"],
                 DEVICE, torch.Generator().manual_seed(0))
report_memory(memory, OUT / "q2a_bptt_memory.png", **sizes)
graph_figure(OUT / "q2a_bptt_graph.png")
show(OUT / "q2a_bptt_graph.png")
show(OUT / "q2a_bptt_memory.png")

# %% [markdown]
# ### Q2(b) Greedy sampling next to sampling from the softmax
#
# Greedy decoding feeds back the most probable word (`argmax`) at every step; the course's sampler
# draws the next word from the softmax (temperature 1). Both start from the end-of-sentence token.

# %%
from alexnet_rnn.lm_data import EOS
from alexnet_rnn.rnn_lm import sample

start = corpus.vocab.encode([EOS]).to(DEVICE)
n_words = 20 if QUICK else 50
greedy = corpus.vocab.decode(sample(model, start, n_words, temperature=0.0), "word")
sampled = corpus.vocab.decode(sample(model, start, n_words, temperature=1.0,
                                     generator=torch.Generator().manual_seed(0)), "word")
print("greedy (argmax):      ", greedy)
print("sampled (softmax, T=1):", sampled)

# %% [markdown]
# ### Q2(c) Euclidean distance between two words' embeddings
#
# On PTB the call is `print_distance("army", "taxpayer")`; both are PTB words but not words of the
# embedded text, so without PTB the cell measures two words that occur there.

# %%
from alexnet_rnn.rnn_lm import embedding_distance


def print_distance(first, second):
    d = embedding_distance(model, corpus.vocab, first, second)
    print(f"euclidean distance between the embeddings of {first!r} and {second!r}: {d:.4f}")
    return d


pair = ("army", "taxpayer") if HAVE_PTB else (("the", "of") if QUICK else ("class", "function"))
distance = print_distance(*pair)

# %% [markdown]
# ## Q4(d) Position-wise feed-forward layer, `nn.Linear` and `nn.Conv1d(kernel_size=1)`
#
# `H(Z) = relu(W1 z_t + b)` at every position of `Z` of shape B x T x D, output B x T x D. The two
# modules share one weight, and `compare` validates them with an `assert` statement.

# %%
from alexnet_rnn.position_ffn import PositionFFNConv, PositionFFNLinear, compare, tie_weights

print(compare(8, 30, 128, generator=torch.Generator().manual_seed(0)))
linear, conv = PositionFFNLinear(16), PositionFFNConv(16)
tie_weights(linear, conv)
z = torch.randn(4, 10, 16)  # (B, T, D)
assert torch.allclose(linear(z), conv(z), atol=1e-6) and linear(z).shape == z.shape
print("Linear and Conv1d outputs match, shape", tuple(linear(z).shape))
