"""The course's ``custom_blocks`` names for the ViT building blocks.

The implementations live in ``student_code.py`` (the handed-in file must run without
this repository, so it carries its own copies); this module re-exports them under the
course helper's public names and signatures:
``PatchEmbed(kernel_size, stride, padding, in_chans, embed_dim)``, ``window_partition``,
``window_unpartition``, ``MLP``, ``drop_path``, ``DropPath``, ``trunc_normal_``.
"""
from miniplaces.student_code import (MLP, DropPath, PatchEmbed, drop_path, trunc_normal_, window_partition,
                                     window_unpartition)

__all__ = ["PatchEmbed", "window_partition", "window_unpartition", "MLP", "drop_path", "DropPath", "trunc_normal_"]
