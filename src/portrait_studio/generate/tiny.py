"""Tiny randomly initialised pipelines, saved to disk, for the tests and benchmarks (never for pictures).

No real weights exist on the machines this is developed on, so the loading, prompting, seeding, adapter and
writing code is exercised on pipelines of the real classes with tiny configurations: a Stable-Diffusion-class
pipeline (UNet, VAE with the real factor of 8, CLIP text encoder, a byte-level BPE CLIP tokenizer over printable
ASCII, DDIM scheduler) and an IP-Adapter for it (a CLIP vision encoder and the adapter's projection and
attention weights in the layout diffusers' ``load_ip_adapter`` reads). Needs the ``generate`` extra.
"""
from __future__ import annotations

import json
import os
import pathlib

#: The tiny UNet's cross-attention width (the text encoder's hidden size).
WIDTH = 16


def _tokens() -> list[str]:
    letters = [chr(i) for i in range(33, 127)]
    return ["<|startoftext|>", "<|endoftext|>"] + letters + [t + "</w>" for t in letters]


def tiny_pipeline(folder: str | os.PathLike, *, seed: int = 0) -> pathlib.Path:
    """Save a tiny Stable-Diffusion-class pipeline with weights drawn from `seed` to `folder` (a diffusers folder
    whose ``model_index.json`` names ``StableDiffusionPipeline``; its own size 64 px). Returns the folder.

    The tokenizer's vocabulary is every printable ASCII character, alone and word-final, with no merges, so any
    English prompt tokenizes without unknowns through the same code as a real CLIP tokenizer.
    """
    import diffusers
    import torch
    import transformers

    folder = pathlib.Path(folder)
    words = folder.with_name(folder.name + "-vocab")
    words.mkdir(parents=True)
    tokens = _tokens()
    (words / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (words / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = transformers.CLIPTokenizer(str(words / "vocab.json"), str(words / "merges.txt"), model_max_length=77)
    torch.manual_seed(seed)
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=WIDTH, attention_head_dim=4, norm_num_groups=8)
    vae = diffusers.AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 8, 16, 16),
                                  down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                                  layers_per_block=1, norm_num_groups=8, sample_size=64)
    text = transformers.CLIPTextModel(transformers.CLIPTextConfig(
        vocab_size=len(tokens), hidden_size=WIDTH, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2,
        max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1))
    scheduler = diffusers.DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                        clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=tokenizer, unet=unet,
                                             scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                             requires_safety_checker=False)
    pipe.save_pretrained(folder)
    return folder


def tiny_ip_adapter(folder: str | os.PathLike, pipeline: str | os.PathLike, *, seed: int = 0,
                    embed_dim: int = 8) -> pathlib.Path:
    """Save an IP-Adapter for the tiny pipeline at `pipeline` to `folder`: ``ip-adapter_tiny.safetensors`` (the
    image projection and each cross-attention layer's ``to_k_ip``/``to_v_ip``, keyed as the published adapters
    are) and ``image_encoder/`` (a tiny CLIP vision model with projection, 32 px). Returns the weights file."""
    import diffusers
    import torch
    import transformers
    from safetensors.torch import save_file

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True)
    torch.manual_seed(seed)
    encoder = transformers.CLIPVisionModelWithProjection(transformers.CLIPVisionConfig(
        hidden_size=16, intermediate_size=24, num_hidden_layers=1, num_attention_heads=2, image_size=32,
        patch_size=8, projection_dim=embed_dim))
    encoder.save_pretrained(folder / "image_encoder")
    unet = diffusers.UNet2DConditionModel.from_pretrained(pathlib.Path(pipeline) / "unet")
    weights = {"image_proj.proj.weight": torch.randn(4 * WIDTH, embed_dim) * 0.2,
               "image_proj.proj.bias": torch.zeros(4 * WIDTH),
               "image_proj.norm.weight": torch.ones(WIDTH), "image_proj.norm.bias": torch.zeros(WIDTH)}
    key = 1
    for name in unet.attn_processors:                       # the order load_ip_adapter numbers them in
        if name.endswith("attn1.processor"):
            continue
        block = name.split(".")[0]
        channels = unet.config.block_out_channels
        width = channels[-1] if block == "mid_block" else (
            list(reversed(channels))[int(name.split(".")[1])] if block == "up_blocks" else channels[int(name.split(".")[1])])
        for part in ("to_k_ip", "to_v_ip"):
            weights[f"ip_adapter.{key}.{part}.weight"] = torch.randn(width, WIDTH) * 0.2
        key += 2
    path = folder / "ip-adapter_tiny.safetensors"
    save_file({k: v.contiguous() for k, v in weights.items()}, str(path))
    return path
