"""Harmonisation by a learned model (optional): the subject's colour and exposure made to agree with the new
scene by an ONNX harmoniser (DoveNet, BargainNet, iSSAM, PCT-Net and the like, trained on iHarmony4), whose
answer is reduced to one global colour transform, so that the photo's detail and resolution are all kept
and a 1 MP preview and the 12 MP export agree.

The contract a harmoniser model meets
-------------------------------------
Inputs, float32, either two, the composite (1, 3, S, S) and the mask (1, 1, S, S), or one, (1, 4, S, S): the
composite and the mask concatenated on the channel axis. The composite is sRGB-encoded, in the model's
normalisation (:data:`portrait_studio.models.Normalisation`: "unit" [0, 1] unless its registered spec
says otherwise); the mask is in [0, 1], 1 on the subject to harmonise. Output (the first one): (1, 3, S, S),
the harmonised composite in the same normalisation. S comes from the model's static input shape (its height
and width, which may differ), else from its spec, else :data:`DEFAULT_SIZE`. Two inputs are told apart by
their channel counts where the shapes give them, else taken in order (composite first). A model that does not
meet this is refused when it is loaded (:func:`load`), with the reason.

How it is used
--------------
:func:`transform` runs the subject, composited over the new scene at S×S (the model must see the scene it is
to match), through the model, and fits a 3×3 linear-light matrix from the model's input foreground to its
output foreground (:func:`fit_colour_transform`, over the subject's solid interior, mask > 0.9: mixed edge
pixels hold the old composite's background too), which the caller applies to the full-resolution foreground.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import cv2
import numpy as np

from ... import models
from ...core import linear_to_srgb, srgb_to_linear
from ...errors import InputError

#: Input side, pixels, of a model whose input shape is dynamic and whose spec gives none.
DEFAULT_SIZE = 256
#: Weight of the ridge toward per-channel gains, relative to the foreground's mean squared level per channel.
RIDGE = 0.02
_SOLID = 0.9                    # mask level from which a pixel is the subject's own (in the fit)
_CLIPPED = 0.98                 # sRGB-encoded level from which a pixel may be clipped (left out of the fit)
_CONTRACT = ("inputs composite (1, 3, S, S) and mask (1, 1, S, S), or one input (1, 4, S, S), float32; "
             "output (1, 3, S, S)")


@dataclass(frozen=True)
class Harmoniser:
    """A loaded harmoniser model (see the module's contract); call it on an sRGB composite and a mask.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    session : onnxruntime.InferenceSession
        Its session (CPU).
    image_input, mask_input : str, str or None
        The input names; `mask_input` is None for one 4-channel input.
    output : str
        The output name.
    size : tuple of int
        (height, width) of its input, pixels.
    normalisation : {"unit", "symmetric", "imagenet"}
        How its sRGB values are scaled.
    """

    path: pathlib.Path
    session: object
    image_input: str
    mask_input: str | None
    output: str
    size: tuple[int, int]
    normalisation: models.Normalisation = "unit"

    def __call__(self, composite: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Harmonise a composite: (H, W, 3) sRGB-encoded values in [0, 1] and the (H, W) mask in [0, 1], at
        :attr:`size`; the harmonised (H, W, 3) composite, sRGB-encoded in [0, 1]."""
        image = models.to_input(composite, self.normalisation)
        m = np.asarray(mask, np.float32)[None, None]
        feed = ({self.image_input: np.concatenate([image, m], axis=1)} if self.mask_input is None
                else {self.image_input: image, self.mask_input: m})
        try:
            out = self.session.run([self.output], feed)[0]
        except Exception as e:  # noqa: BLE001 - ONNX Runtime's own exception types
            reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise InputError(self.path, f"failed to run as a harmoniser ({reason})", f"give a model with {_CONTRACT}"
                             ) from None
        want = (1, 3, *composite.shape[:2])
        if tuple(np.shape(out)) != want:
            raise InputError(self.path, f"gave an output of shape {tuple(np.shape(out))}, not {want}",
                             f"give a harmoniser with {_CONTRACT}")
        return models.from_output(out, self.normalisation)


def _dim(d) -> int | None:
    """A static dimension of an ONNX shape, or None for a dynamic one."""
    return d if isinstance(d, int) and d > 0 else None


def _contract_problem(inputs, outputs) -> str | None:
    """What keeps a model's inputs and outputs (ONNX Runtime NodeArgs) from the contract, or None."""
    if len(inputs) not in (1, 2):
        return f"it has {len(inputs)} inputs"
    for arg in (*inputs, outputs[0]):
        if arg.type != "tensor(float)":
            return f"{arg.name!r} is {arg.type}, not float32"
        if len(arg.shape or ()) != 4 or _dim(arg.shape[0]) not in (1, None):
            return f"{arg.name!r} has shape {list(arg.shape or ())}, not (1, C, S, S)"
    channels = [_dim(a.shape[1]) for a in inputs]
    if len(inputs) == 1 and channels[0] not in (4, None):
        return f"its one input has {channels[0]} channels, not 4 (the composite and the mask)"
    if len(inputs) == 2 and sorted(c for c in channels if c is not None) not in ([], [1], [3], [1, 3]):
        return f"its two inputs have {channels} channels, not 3 (the composite) and 1 (the mask)"
    if _dim(outputs[0].shape[1]) not in (3, None):
        return f"its output has {outputs[0].shape[1]} channels, not 3"
    return None


def load(model: models.Model) -> Harmoniser:
    """A harmoniser from a loaded model (:func:`portrait_studio.models.load`: a registered name or a path to an
    .onnx file, found and loaded by the runner), checked against the contract (see the module).

    Raises
    ------
    InputError
        A model that does not meet the contract.
    """
    spec, path, session = model.spec, model.path, model.session
    inputs, outputs = session.get_inputs(), session.get_outputs()
    problem = _contract_problem(inputs, outputs) if outputs else "it has no output"
    if problem:
        raise InputError(path, f"is not a harmoniser: {problem}", f"give a model with {_CONTRACT}")
    image, mask = inputs[0], (inputs[1] if len(inputs) == 2 else None)
    if mask is not None and (_dim(image.shape[1]) == 1 or _dim(mask.shape[1]) == 3):
        image, mask = mask, image
    fallback = spec.size if spec and spec.size else DEFAULT_SIZE
    size = tuple(_dim(d) or fallback for d in image.shape[2:])
    out_size = tuple(_dim(d) for d in outputs[0].shape[2:])
    if any(o is not None and o != s for o, s in zip(out_size, size)):
        raise InputError(path, f"is not a harmoniser: its output is {list(outputs[0].shape)} for an input of "
                         f"{list(image.shape)}", f"give a model with {_CONTRACT}")
    return Harmoniser(path, session, image.name, mask.name if mask is not None else None, outputs[0].name,
                      size, spec.normalisation if spec else "unit")


def fit_colour_transform(before: np.ndarray, after: np.ndarray, *, ridge: float = RIDGE) -> np.ndarray:
    """The 3×3 matrix `M` with ``after ≈ before @ M.T``, by least squares ridge-regularised toward per-channel
    gains (von Kries: the diagonal least-squares fit, which every channel's own pixels determine firmly).

    The full matrix is only trusted along the colour directions the pixels span: a subject's colours are
    strongly correlated (mostly one direction, its brightness), so an unregularised fit could mix channels
    wildly along the others; the ridge, `ridge` times the mean squared level per channel, keeps those at the
    gains. Few or no pixels give the identity.

    Parameters
    ----------
    before, after : ndarray
        (N, 3) linear RGB of the same pixels before and after.
    ridge : float
        The regularisation weight, relative (0 = plain least squares).

    Returns
    -------
    ndarray
        (3, 3) float32; apply with ``cv2.transform(image, M)``.
    """
    x, y = np.asarray(before, np.float64), np.asarray(after, np.float64)
    xtx, xty = x.T @ x, x.T @ y
    if x.shape[0] < 3 or np.trace(xtx) <= 1e-12:
        return np.eye(3, dtype=np.float32)
    gains = np.diag(xty) / np.maximum(np.diag(xtx), 1e-12)
    lam = ridge * np.trace(xtx) / 3.0
    mt = np.linalg.solve(xtx + lam * np.eye(3), xty + lam * np.diag(gains))
    return mt.T.astype(np.float32)


def transform(harmoniser: Harmoniser, image: np.ndarray, alpha: np.ndarray, scene: np.ndarray, *,
              strength: float = 1.0) -> np.ndarray:
    """The linear-RGB matrix that harmonises the subject with the new scene, by `harmoniser`.

    The subject (`image` where `alpha`) over `scene` is made at the model's size, run through it, and the
    colour transform fitted from its input foreground to its output foreground (:func:`fit_colour_transform`,
    in linear light, over the solid interior, mask > 0.9, and pixels unclipped in both). `strength` in [0, 1] blends the matrix
    with the identity.

    Parameters
    ----------
    harmoniser : Harmoniser
        The loaded model (:func:`load`).
    image : ndarray
        (H, W, 3) linear RGB, the photo (any size: it is reduced to the model's).
    alpha : ndarray
        (H, W) the subject's matte in [0, 1].
    scene : ndarray
        (h, w, 3) linear RGB, the new background, any size; stretched to the model's square like the rest.
    strength : float
        0 = the identity, 1 = the model's full change.

    Returns
    -------
    ndarray
        (3, 3) float32; apply with ``cv2.transform(foreground, M)``.
    """
    h, w = harmoniser.size
    fit = lambda x: cv2.resize(np.asarray(x, np.float32), (w, h), interpolation=cv2.INTER_AREA)  # noqa: E731
    a = np.clip(fit(alpha), 0.0, 1.0)
    composite = linear_to_srgb(fit(image) * a[..., None] + fit(scene) * (1.0 - a[..., None]))
    harmonised = harmoniser(composite, a)
    use = (a > _SOLID) & (composite.max(-1) < _CLIPPED) & (harmonised.max(-1) < _CLIPPED)
    m = fit_colour_transform(srgb_to_linear(composite[use]), srgb_to_linear(harmonised[use]))
    eye = np.eye(3, dtype=np.float32)
    return (eye + np.float32(strength) * (m - eye)).astype(np.float32)
