"""One dataset, three ways to shape a latent space, each trained by the common engine.

    selfsup      1.2.1  autoencoder on reconstruction, then a classifier on the frozen encoder
    guided       1.2.2  encoder + classifier trained jointly on cross-entropy
    contrastive  1.2.3  SimCLR pre-training (two views, projection head, NT-Xent), then the
                        same classifier on the frozen encoder

Every (dataset, mode) gets its own run directory ``<root>/<dataset>_<mode>/`` (metrics.json,
figures/) and every training stage a sub-directory with its checkpoints and TensorBoard
events, so no stage overwrites another's files.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn as nn

from common.checkpoint import load_checkpoint, load_model_weights
from common.cli import RunContext
from common.data import DeviceBatches
from common.engine import EngineConfig, StepFn, Trainer, classification_step
from common.errors import UserError
from common.images import to_unit
from common.io import read_json
from common.plotting import plot_training_curves
from common.rundir import RunDir

from autoencoders.augment import LightAugment, ViewAugment
from autoencoders.data import ImageData, Normalizer
from autoencoders.defaults import DEFAULTS, MODES  # noqa: F401 (re-exported)
from autoencoders.figures import interpolation_pair, plot_interpolation, plot_reconstructions
from autoencoders.models import (AutoEncoder, ContrastiveModel, Decoder, Encoder, EncoderClassifier,
                                 FrozenEncoderClassifier, classifier_head, encoder_fingerprint, projection_head)
from autoencoders.probe import linear_probe, plateau_gain
from autoencoders.steps import contrastive_step, one_view, reconstruction_step, two_views
from autoencoders.utils import plot_tsne

MODE_TITLES = {"selfsup": "1.2.1 self-supervised autoencoder + frozen-encoder classifier",
               "guided": "1.2.2 encoder trained jointly with the classifier",
               "contrastive": "1.2.3 SimCLR contrastive encoder + frozen-encoder classifier"}
RETRIEVAL_NOTE = " (accuracy = how often a view's positive is its nearest / top-5 among the 2N - 1 others)"


def setting(args: argparse.Namespace, key: str, dataset: str):
    """The flag's value if given, else the dataset's default."""
    value = getattr(args, key, None)
    return DEFAULTS[dataset][key] if value is None else value


class Experiment:
    """Trains and evaluates the three modes on one dataset (held on the run's device)."""

    def __init__(self, args: argparse.Namespace, data: ImageData, ctx: RunContext, root: Path):
        self.args, self.ctx, self.root = args, ctx, Path(root)
        self.data = data.to(ctx.device)
        self.norm = Normalizer(data.mean, data.std, ctx.device)
        self.batch_size = setting(args, "batch_size", data.name)
        self.width = setting(args, "width", data.name)

    # ----------------------------------------------------------- building blocks
    def loader(self, split: str, transform, train: bool = False) -> DeviceBatches:
        x, y = self.data.splits[split]
        return DeviceBatches(x, y, self.batch_size, train=train, transform=lambda batch: transform(to_unit(batch)),
                             seed=self.args.seed, dist_info=self.ctx.dist)

    def plain(self, split: str) -> DeviceBatches:
        return self.loader(split, one_view(self.norm))

    def augmented_train(self) -> DeviceBatches:
        return self.loader("train", one_view(self.norm, LightAugment(self.data.kind)), train=True)

    def encoder(self) -> Encoder:
        return Encoder(in_channels=self.data.channels, image_size=self.data.size, latent_dim=self.args.latent_dim,
                       width=self.width)

    def head(self) -> nn.Module:
        return classifier_head(self.args.latent_dim, len(self.data.class_names), dropout=self.args.dropout)

    def ckpt_args(self, stage: str, **extra) -> dict:
        return {**vars(self.args), "dataset": self.data.name, "stage": stage, "width": self.width, **extra}

    def trainer(self, model: nn.Module, run_dir: Path, stage: str, *, epochs: int, lr: float, train_loader,
                val_loader, step_fn: StepFn | None = None, monitor: str = "acc1", mode: str = "max",
                **extra) -> Trainer:
        """A Trainer for one stage, writing into its own run directory."""
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=self.args.weight_decay)
        cfg = EngineConfig(epochs=epochs, warmup_epochs=min(1.0, epochs / 10), clip_grad=self.args.clip_grad,
                           print_freq=self.args.print_freq, quiet=self.args.quiet, topk=(1, 5), monitor=monitor,
                           monitor_mode=mode, channels_last=True)
        run = RunDir(run_dir / stage, writes=self.ctx.dist.is_main, resuming=bool(self.args.resume))
        return Trainer(model, optimizer, train_loader, val_loader, ctx=self.ctx, run=run, cfg=cfg, step_fn=step_fn,
                       arch=f"autoencoders.{stage}", args=self.ckpt_args(stage, **extra))

    def fit(self, trainer: Trainer, title: str, note: str = "") -> dict:
        """Train (resuming if asked), plot the curves into the stage directory, write its metrics.

        Under ``--resume`` a stage that had finished is not retrained: its final weights are
        loaded from its checkpoint and its metrics.json is returned.
        """
        done = read_json(trainer.run.path / "metrics.json")
        ckpt = trainer.run.models / "checkpoint.pth.tar"
        if self.args.resume and done:
            self.load_stage(trainer.module, str(ckpt), trainer.arch.split(".", 1)[1], flag="--resume")
            return done
        if self.args.resume and ckpt.exists():
            if Path(self.args.resume).resolve() != ckpt.resolve():
                raise UserError(f"stage {trainer.run.path} was interrupted too; resume it with --resume {ckpt}")
            trainer.resume(self.args.resume)
        history = trainer.fit()
        key, direction = f"val_{trainer.cfg.monitor}", trainer.cfg.monitor_mode
        metrics = {**trainer.final_metrics(), "data": self.data.label, "val_curve": [h.get(key) for h in history],
                   "val_gain_last_quarter": plateau_gain(history, key, mode=direction)}  # ~0: trained to a plateau
        if self.ctx.dist.is_main and history and self.args.curves:
            plot_training_curves(history, trainer.run.figure_path("training_curves"), title=title,
                                 caption=f"Per-epoch loss/accuracy/LR of stage {trainer.arch}{note}; "
                                         f"data: {self.data.label}.")
        trainer.run.write_metrics(metrics)
        trainer.run.close()
        return metrics

    # ------------------------------------------------------------- checkpoints
    def load_stage(self, model: nn.Module, path: str, stage: str, flag: str = "--encoder") -> dict:
        """Load a saved stage checkpoint into ``model`` after checking it was built like this run."""
        ckpt = load_checkpoint(path, map_location=self.ctx.device, expected_arch=f"autoencoders.{stage}", flag=flag)
        saved = ckpt.get("args") or {}
        for key, mine in (("dataset", self.data.name), ("latent_dim", self.args.latent_dim), ("width", self.width)):
            if saved.get(key) is not None and saved[key] != mine:
                flag = "--" + key.replace("_", "-")
                raise UserError(f"{path} was trained with {flag} {saved[key]}, but this run uses {flag} {mine}; "
                                f"pass {flag} {saved[key]} or another checkpoint")
        load_model_weights(model, ckpt, path)
        return ckpt

    # ------------------------------------------------------------------- modes
    def run(self, mode: str) -> dict:
        """Train and evaluate one mode; returns its flat metrics (also in its metrics.json)."""
        out = RunDir(self.root / f"{self.data.name}_{mode}", writes=self.ctx.dist.is_main,
                     resuming=bool(self.args.resume))
        finished = read_json(out.path / "metrics.json")
        if finished:  # only reachable under --resume: this mode completed before the stop
            return finished
        t0 = time.perf_counter()
        train_mode = {"selfsup": self._selfsup, "guided": self._guided, "contrastive": self._contrastive}[mode]
        encoder, metrics = train_mode(out)
        metrics.update({"dataset": self.data.name, "mode": mode, "data": self.data.label,
                        "latent_dim": self.args.latent_dim, "width": self.width, "seconds": time.perf_counter() - t0})
        if self.ctx.dist.is_main and self.args.tsne_points:
            plot_tsne(encoder, self.plain("test"), self.ctx.device, out.figures, name=f"{self.data.name}_{mode}",
                      class_names=self.data.class_names, data_label=self.data.label,
                      max_points=self.args.tsne_points, seed=self.args.seed,
                      title=f"t-SNE, {self.data.name}: {MODE_TITLES[mode]}")
        out.write_metrics(metrics)
        out.close()
        return metrics

    def _selfsup(self, out: RunDir):
        ae = AutoEncoder(self.encoder(), Decoder(out_channels=self.data.channels, image_size=self.data.size,
                                                 latent_dim=self.args.latent_dim, width=self.width))
        step = reconstruction_step(self.norm.mean, self.norm.std, self.args.ae_loss)
        trainer = self.trainer(ae, out.path, "autoencoder", epochs=setting(self.args, "ae_epochs", self.data.name),
                               lr=self.args.ae_lr, train_loader=self.loader("train", one_view(self.norm), train=True),
                               val_loader=self.plain("val"), step_fn=step, monitor="mae", mode="min")
        metrics = {}
        if self.args.encoder:
            self.load_stage(trainer.module, self.args.encoder, "autoencoder")
            metrics["encoder_checkpoint"] = self.args.encoder
        else:
            metrics.update({f"ae_{k}": v for k, v in self.fit(trainer, "autoencoder").items() if k != "data"})
        for split in ("val", "test"):
            metrics[f"{split}_mae"] = trainer.evaluate(self.plain(split), desc=f"{split} mae")["mae"]
        if self.ctx.dist.is_main:
            self._ae_figures(ae, out)
        metrics.update(self._frozen_classifier(ae.encoder, out))
        return ae.encoder, metrics

    def _guided(self, out: RunDir):
        model = EncoderClassifier(self.encoder(), self.head())
        trainer = self.trainer(model, out.path, "joint", epochs=setting(self.args, "joint_epochs", self.data.name),
                               lr=self.args.joint_lr, train_loader=self.augmented_train(), val_loader=self.plain("val"))
        metrics = {f"joint_{k}": v for k, v in self.fit(trainer, "joint encoder + classifier").items() if k != "data"}
        metrics["joint_val_gain_last_quarter"] = plateau_gain(trainer.history)
        metrics.update(self._accuracies(trainer))
        metrics.update(linear_probe(self.codes(model.encoder), seed=self.args.seed))
        return model.encoder, metrics

    def _contrastive(self, out: RunDir):
        model = ContrastiveModel(self.encoder(), projection_head(self.args.latent_dim))
        views = two_views(self.norm, ViewAugment(self.data.kind, jitter=self.args.jitter))
        trainer = self.trainer(model, out.path, "contrastive",
                               epochs=setting(self.args, "contrastive_epochs", self.data.name),
                               lr=self.args.contrastive_lr, train_loader=self.loader("train", views, train=True),
                               val_loader=self.loader("val", views), step_fn=contrastive_step(self.args.temperature))
        metrics = {}
        if self.args.encoder:
            self.load_stage(trainer.module, self.args.encoder, "contrastive")
            metrics["encoder_checkpoint"] = self.args.encoder
        else:
            fitted = self.fit(trainer, "SimCLR pre-training", RETRIEVAL_NOTE)
            metrics.update({f"contrastive_{k}": v for k, v in fitted.items() if k != "data"})
        metrics.update(self._frozen_classifier(model.encoder, out))
        return model.encoder, metrics

    # ---------------------------------------------------------------- shared parts
    def _frozen_classifier(self, encoder: Encoder, out: RunDir) -> dict:
        """Train (or load) the classifier head on the frozen encoder's codes, probe them; verify the encoder.

        The encoder is frozen, so its codes of the clean images are computed once and the head
        trains on them (many epochs cost almost nothing); accuracies are then measured end to
        end, encoder + head on the images.
        """
        before = encoder_fingerprint(encoder)
        codes = self.codes(encoder)
        head = self.head()
        trainer = self.trainer(head, out.path, "classifier", epochs=setting(self.args, "clf_epochs", self.data.name),
                               lr=self.args.clf_lr, train_loader=self.code_loader(codes, "train", train=True),
                               val_loader=self.code_loader(codes, "val"), encoder_fingerprint=before)
        metrics = {"encoder_fingerprint": before}
        if self.args.classifier:
            ckpt = load_checkpoint(self.args.classifier, map_location=self.ctx.device,
                                   expected_arch="autoencoders.classifier", flag="--classifier")
            paired = (ckpt.get("args") or {}).get("encoder_fingerprint")
            if paired != before:
                raise UserError(f"classifier checkpoint {self.args.classifier} was trained on encoder {paired}, "
                                f"but this run's encoder is {before}; pass the --encoder it was trained with")
            load_model_weights(trainer.module, ckpt, self.args.classifier)
        else:
            metrics.update({f"clf_{k}": v for k, v in self.fit(trainer, "classifier on frozen encoder").items()
                            if k != "data"})
            metrics["clf_val_gain_last_quarter"] = plateau_gain(trainer.history)
        if encoder_fingerprint(encoder) != before:  # a bug, not a user error: fail loudly
            raise RuntimeError("the frozen encoder changed during classifier training")
        metrics["encoder_frozen_verified"] = True
        metrics.update(self._accuracies(trainer, FrozenEncoderClassifier(encoder, trainer.module)))
        metrics.update(linear_probe(codes, seed=self.args.seed))
        return metrics

    @torch.no_grad()
    def codes(self, encoder: nn.Module) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """(codes (N, L), labels (N,)) of every split's clean images, encoder in eval mode (all ranks: all images)."""
        was_training = encoder.training
        encoder.eval()
        out = {}
        for split, (x, y) in self.data.splits.items():
            batches = DeviceBatches(x, y, self.batch_size, train=False, transform=lambda b: (self.norm(to_unit(b)),))
            out[split] = (torch.cat([encoder(xb).float() for xb, _ in batches]), y)
        encoder.train(was_training)
        return out

    def code_loader(self, codes: dict, split: str, train: bool = False) -> DeviceBatches:
        z, y = codes[split]
        return DeviceBatches(z, y, self.batch_size, train=train, transform=lambda batch: (batch,),
                             seed=self.args.seed, dist_info=self.ctx.dist)

    def _accuracies(self, trainer: Trainer, model: nn.Module | None = None) -> dict:
        """Top-1 accuracy of ``model`` (default: the trainer's) on clean train, val and test images, eval mode."""
        step = classification_step if model is None else (lambda _trained, batch: classification_step(model, batch))
        return {f"{split}_acc1": trainer.evaluate(self.plain(split), step, desc=split)["acc1"]
                for split in ("train", "val", "test")}

    def _ae_figures(self, ae: AutoEncoder, out: RunDir) -> None:
        """Item 3: five random test images over their reconstructions; item 4: interpolate a pair of them."""
        x, y = self.data.splits["test"]
        gen = torch.Generator().manual_seed(self.args.seed)
        pick = torch.randperm(len(y), generator=gen)[:5].to(x.device)
        xs = self.norm(x[pick].float() / 255)
        classes = y[pick].tolist()
        names = [self.data.class_names[int(c)] for c in classes]
        plot_reconstructions(ae, xs, names, self.norm.mean, self.norm.std, out.figure_path("reconstructions"),
                             title=f"Reconstructions ({self.data.name})", data_label=self.data.label)
        a, b = interpolation_pair(classes)
        plot_interpolation(ae, xs[a], xs[b], self.norm.mean, self.norm.std, out.figure_path("interpolation"),
                           names=(names[a], names[b]), title=f"Latent interpolation ({self.data.name})",
                           data_label=self.data.label)
