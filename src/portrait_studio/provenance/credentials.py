"""C2PA Content Credentials for an output, made from the Portrait's history, and read back.

Each step of ``Portrait.history`` (an operation's name and its validated parameters, from its schema
record) becomes one C2PA action, in order, with the action its declaration names
(:attr:`~portrait_studio.schema.Operation.c2pa_action`), the software agent ``portrait-studio <version>`` and,
where a learned model or an identity-changing edit made the pixels, the digital source type
``compositeWithTrainedAlgorithmicMedia``. The file the photo was read from is the parent ingredient (c2pa
records its hash, and carries its own credentials if it had any). Signed by c2pa-python (the
``provenance`` extra) with the key :mod:`.signing` finds.
"""
from __future__ import annotations

import io
import json
import os
import pathlib

from .. import __version__
from ..errors import MissingDependencyError

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
#: Where a learned model or an identity-changing edit made pixels.
TRAINED = IPTC + "compositeWithTrainedAlgorithmicMedia"
AGENT = {"name": "portrait-studio", "version": __version__}
#: What to install for credentials, said once where they cannot be made.
INSTALL = "pip install 'portrait-studio[provenance]' (c2pa-python)"
MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff",
        ".tiff": "image/tiff", ".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif",
        ".avif": "image/avif", ".dng": "image/dng", ".gif": "image/gif"}
#: The label of this product's own assertion: the watermark's payload, so a reader can match a mark to its record.
ASSERTION = "org.portrait-studio.watermark"
PARENT = "parent"


def available() -> bool:
    """Whether c2pa-python is installed (credentials are written by default only then)."""
    try:
        import c2pa  # noqa: F401
    except ImportError:
        return False
    return True


def _c2pa():
    try:
        import c2pa
    except ImportError:
        raise MissingDependencyError(f"Content Credentials need c2pa-python: {INSTALL}") from None
    return c2pa


def actions(history, operations=None, *, parent: bool = True) -> list[dict]:
    """The C2PA actions for a Portrait's `history` (``{"op", "params"}`` steps, oldest first): an ``opened``
    of the parent (a ``created`` where there is none), then one action per step, each with the operation's
    name and parameters. Where there is no parent and the first step names the digital source type it made
    (``"source"``, e.g. ``"trainedAlgorithmicMedia"`` for a generated picture), that step is the ``created``
    action, with that source type and its parameters."""
    if operations is None:
        from ..ops import OPERATIONS as operations
    history = list(history)
    if not parent and history and history[0].get("source"):   # made by the first step (a generation): created so
        first = history.pop(0)
        out = [{"action": "c2pa.created", "softwareAgent": AGENT, "digitalSourceType": IPTC + first["source"],
                "description": f"portrait-studio {first['op']}",
                "parameters": {"operation": first["op"], "parameters": first["params"]}}]
    else:
        out = [{"action": "c2pa.opened", "softwareAgent": AGENT, "parameters": {"ingredientIds": [PARENT]}} if parent
               else {"action": "c2pa.created", "softwareAgent": AGENT, "digitalSourceType": IPTC + "digitalCreation"}]
    for step in history:
        op = operations.get(step["op"])
        act = {"action": op.c2pa_action if op else "c2pa.edited", "softwareAgent": AGENT,
               "description": f"portrait-studio {step['op']}",
               "parameters": {"operation": step["op"], "parameters": step["params"]}}
        if op is not None and (op.identity_changing or _learned(op, step["params"])):
            act["digitalSourceType"] = TRAINED
            if op.identity_changing:
                act["parameters"]["identityChanging"] = True
        out.append(act)
    return out


def _learned(op, params: dict) -> bool:
    """Whether a learned model made pixels in this step: a model input (ONNX) was given."""
    return any(params.get(n) is not None for n, kind in op.inputs.items() if kind == "model")


def manifest(portrait, *, title: str, mime: str, watermark: str | None = None) -> dict:
    """The manifest definition for an output of `portrait` (see the module docstring)."""
    parent = getattr(portrait, "origin", None) is not None
    assertions = [{"label": "c2pa.actions.v2", "data": {"actions": actions(portrait.history, parent=parent)}}]
    if watermark:
        assertions.append({"label": ASSERTION, "data": {"payload": watermark}})
    return {"claim_generator_info": [AGENT], "title": title, "format": mime, "assertions": assertions}


def sign_file(path: pathlib.Path, portrait, *, key, title: str | None = None, watermark: str | None = None,
              sidecar: pathlib.Path | None = None) -> None:
    """Sign the image file at `path` in place (its manifest embedded), or, with `sidecar`, leave it as it is
    and write the manifest store to `sidecar` (for formats c2pa cannot embed into). `path` is the temporary
    file a writer renames over its target, so a process killed while signing leaves only that temporary."""
    c2pa = _c2pa()
    mime = MIME[path.suffix.lower()]
    title = title or path.name
    settings = {"builder": {"thumbnail": {"enabled": False}}}      # no picture of the parent in the manifest
    context = c2pa.Context.from_dict(settings)
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(key.alg.encode(), key.chain.encode(), key.key.encode(), None))
    with c2pa.Builder(manifest(portrait, title=title, mime=mime, watermark=watermark), context) as b:
        origin = getattr(portrait, "origin", None)
        if origin is not None:
            fmt = _sniff(origin.data)
            ing = {"title": os.path.basename(str(portrait.path)) or "original", "relationship": "parentOf",
                   "label": PARENT, "format": fmt or "application/octet-stream",
                   "description": f"sha256:{origin.sha256}"}
            if fmt in c2pa.Builder.get_supported_mime_types():
                b.add_ingredient(ing, fmt, io.BytesIO(origin.data))
            else:                          # a format c2pa cannot read (most RAW): named, with its hash
                b.add_ingredient(ing, "application/octet-stream", io.BytesIO(b""))
        if sidecar is not None:
            b.set_no_embed()
            with open(path, "rb") as src:
                store = b.sign(signer, mime, src, io.BytesIO())
            sidecar.write_bytes(store)
            return
        with open(path, "rb") as src:           # signed in memory: `path` is already the writer's temporary
            signed = io.BytesIO()
            b.sign(signer, mime, src, signed)
        path.write_bytes(signed.getvalue())


def _sniff(data: bytes) -> str | None:
    """The MIME type of an image file's bytes, from its signature."""
    head = data[:16]
    if head.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] in (b"II*\0", b"MM\0*"):
        return "image/tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "image/avif" if head[8:12] in (b"avif", b"avis") else "image/heic"
    if head[:4] == b"GIF8":
        return "image/gif"
    return None


def read(path: str | os.PathLike) -> dict:
    """The credentials of a file (embedded, or in a ``.c2pa`` sidecar beside it), in the shape ``portrait
    verify --json`` gives: ``{"present", "valid", "signer", "actions": [{"action", "operation",
    "parameters"}], "ingredients": [...], "problems": [...], "watermark_payload"}``."""
    c2pa = _c2pa()
    path = pathlib.Path(path)
    out = {"present": False, "valid": None, "signer": None, "actions": [], "ingredients": [], "problems": []}
    doc, err = None, None
    sidecar = path.with_suffix(".c2pa")
    try:
        if sidecar.is_file():
            with open(path, "rb") as f, c2pa.Reader(MIME.get(path.suffix.lower(), "image/jpeg"), f,
                                                   manifest_data=sidecar.read_bytes()) as r:
                doc = json.loads(r.json())
        else:
            with c2pa.Reader(str(path)) as r:
                doc = json.loads(r.json())
    except Exception as e:                         # noqa: BLE001 - c2pa raises its own family, and others
        err = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if not doc:
        if err and "ManifestNotFound" not in err and "no JUMBF" not in err.lower():
            out["problems"].append(f"credentials could not be read: {err}")
        return out
    m = (doc.get("manifests") or {}).get(doc.get("active_manifest"))
    if not m:
        out["problems"].append("no active manifest")
        return out
    out["present"] = True
    sig = m.get("signature_info") or {}
    out["signer"] = sig.get("common_name") or sig.get("issuer")
    for s in m.get("assertions") or []:
        label = str(s.get("label", ""))
        if label.startswith("c2pa.actions"):
            for a in (s.get("data") or {}).get("actions") or []:
                p = a.get("parameters") or {}
                out["actions"].append({"action": a.get("action"), "operation": p.get("operation"),
                                       "parameters": p.get("parameters") or {},
                                       **({"digitalSourceType": a["digitalSourceType"]} if "digitalSourceType" in a else {})})
        elif label == ASSERTION:
            out["watermark_payload"] = (s.get("data") or {}).get("payload")
    for i in m.get("ingredients") or []:
        out["ingredients"].append({"title": i.get("title"), "relationship": i.get("relationship"),
                                   "format": i.get("format"), "hash": _hash_of(i)})
    codes = _failures(doc)
    untrusted = {"signingCredential.untrusted"}
    out["problems"] += [f"{c['code']}: {c.get('explanation', '')}".strip(": ") for c in codes if c["code"] not in untrusted]
    out["trusted"] = not any(c["code"] in untrusted for c in codes)
    out["valid"] = not any(c["code"] not in untrusted for c in codes)
    if not out["trusted"]:
        out["note"] = "signed by a key no trust list knows (e.g. one made on the signer's own machine)"
    return out


def _hash_of(ingredient: dict) -> str | None:
    """The hash a manifest records for an ingredient (its hashed reference, or the sha256 we wrote)."""
    if str(ingredient.get("description", "")).startswith("sha256:"):
        return ingredient["description"]
    for key in ("c2pa_manifest", "active_manifest", "data"):
        ref = ingredient.get(key)
        if isinstance(ref, dict) and ref.get("hash"):
            return f"{ref.get('alg', 'sha256')}:{ref['hash']}"
    return ingredient.get("hash") or ingredient.get("instance_id")


def _failures(doc) -> list[dict]:
    """Every validation failure anywhere in a c2pa report (validation_status or the failure lists)."""
    found = []

    def walk(x, key=None):
        if isinstance(x, dict):
            if "code" in x and key in ("validation_status", "failure"):
                found.append(x)
                return
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
    walk(doc)
    seen, out = set(), []
    for f in found:
        if f["code"] not in seen:
            seen.add(f["code"])
            out.append(f)
    return out
