#!/usr/bin/env python3
"""Export the Pixel3DMM networks (uv.ckpt, normals.ckpt) to the ONNX contract of pixel3dmm-ts.

Contract (packages/preprocess/README.md, "The Pixel3DMM networks"):
  input  `image`   float32 [B, 3, 512, 512], RGB in [0, 1]  (the ImageNet normalisation stays in the graph)
  output `uv`      float32 [B, 2, 512, 512], raw             (from uv.ckpt)
      or `normals` float32 [B, 3, 512, 512], raw             (from normals.ckpt)
  B is dynamic. Mirror TTA, averaging and PNG encoding happen in TypeScript (spec 3.2-3.4).

Needs: the original Python package `pixel3dmm` installed (pip install -e . in its repository), PyTorch,
timm, pytorch_lightning, and the checkpoints (pretrained_weights/uv.ckpt, normals.ckpt). Optional:
onnxruntime, to check the exported graph against PyTorch.

UNTESTED in this repository: pixel3dmm-ts has neither the original package, PyTorch nor the weights,
so this script was written from the original's source (scripts/network_inference.py,
lightning/p3dmm_network.py) and the spec, and has never been run here. Please report problems.

Usage:
  python tools/export-onnx.py --ckpt pretrained_weights/uv.ckpt --out uv.onnx
  python tools/export-onnx.py --ckpt pretrained_weights/normals.ckpt --out normals.onnx
  then: pixel3dmm doctor   (with PIXEL3DMM_UV_MODEL / PIXEL3DMM_NORMALS_MODEL set)

Why the position embedding is baked: the backbone is a timm ViT created with dynamic_img_size=True,
which resamples its 14x14 position embedding to the 32x32 patch grid of a 512 input on every forward
with bicubic interpolation *with antialiasing*. ONNX Resize has no antialiased cubic mode, so the
resampled 32x32 embedding is computed once here with timm's own function and stored as a constant.
"""
import argparse
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--ckpt', required=True, help='uv.ckpt or normals.ckpt of the original Pixel3DMM')
    p.add_argument('--out', required=True, help='output .onnx file')
    p.add_argument('--kind', choices=['uv', 'normals'], help="network kind (default: from the checkpoint's prediction_type)")
    p.add_argument('--opset', type=int, default=17, help='ONNX opset (>= 17 for LayerNormalization)')
    p.add_argument('--no-check', action='store_true', help='skip the onnxruntime comparison')
    return p.parse_args()


def bake_position_embedding(vit, grid=(32, 32)):
    """Replace the ViT's per-forward pos-embed resampling by the precomputed grid x grid embedding."""
    import torch
    from timm.layers import resample_abs_pos_embed

    prefix = 0 if getattr(vit, 'no_embed_class', False) else vit.num_prefix_tokens
    with torch.no_grad():
        baked = resample_abs_pos_embed(vit.pos_embed, new_size=grid, num_prefix_tokens=prefix)  # bicubic, antialias=True
    vit.register_buffer('baked_pos_embed', baked.detach().clone(), persistent=False)

    def _pos_embed(x):
        if x.ndim == 4:  # dynamic_img_size: patch_embed returns NHWC
            b, h, w, c = x.shape
            if (h, w) != tuple(grid):
                raise ValueError(f'the baked position embedding is for a {grid} grid, got {(h, w)}')
            x = x.reshape(b, h * w, c)
        to_cat = []
        if getattr(vit, 'cls_token', None) is not None:
            to_cat.append(vit.cls_token.expand(x.shape[0], -1, -1))
        if getattr(vit, 'reg_token', None) is not None:
            to_cat.append(vit.reg_token.expand(x.shape[0], -1, -1))
        if getattr(vit, 'no_embed_class', False):
            x = x + vit.baked_pos_embed
            if to_cat:
                x = torch.cat(to_cat + [x], dim=1)
        else:
            if to_cat:
                x = torch.cat(to_cat + [x], dim=1)
            x = x + vit.baked_pos_embed
        return vit.pos_drop(x)

    vit._pos_embed = _pos_embed


def main():
    args = parse_args()
    try:
        import torch
        import timm  # noqa: F401
        from timm.models.vision_transformer import VisionTransformer
        from pixel3dmm.lightning.p3dmm_system import system as P3dmmSystem
    except ImportError as e:
        sys.exit(f'error: {e}. This script needs PyTorch, timm and the original pixel3dmm package (see the docstring).')

    # Checkpoints of PyTorch >= 2.6 default to weights_only=True; these Lightning checkpoints carry their config.
    original_load = torch.load

    def load(*a, **k):
        k.setdefault('weights_only', False)
        return original_load(*a, **k)

    torch.load = load
    system = P3dmmSystem.load_from_checkpoint(args.ckpt, strict=False, map_location='cpu')
    system.eval()
    net = system.net.eval()

    cfg = getattr(system, 'cfg', None) or getattr(getattr(system, 'hparams', None), 'cfg', None)
    kind = args.kind
    if kind is None:
        pred = str(getattr(getattr(cfg, 'model', None), 'prediction_type', '')) if cfg is not None else ''
        kind = 'uv' if 'uv_map' in pred else 'normals' if 'normals' in pred else None
        if kind is None:
            sys.exit('error: cannot tell uv from normals from the checkpoint; pass --kind uv or --kind normals')
    key = 'uv_map' if kind == 'uv' else 'normals'
    channels = 2 if kind == 'uv' else 3

    vits = [m for m in net.modules() if isinstance(m, VisionTransformer)]
    if not vits:
        sys.exit('error: no timm VisionTransformer found in the network; is this a Pixel3DMM checkpoint?')
    for vit in vits:
        bake_position_embedding(vit, (32, 32))

    class Exported(torch.nn.Module):
        """[B,3,512,512] RGB in [0,1] -> raw [B,C,512,512], as network_inference.py calls model.net."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, image):
            tar_rgb = image.permute(0, 2, 3, 1).unsqueeze(1)  # [B,1,512,512,3], the layout the original feeds
            out, _conf = self.inner({'tar_rgb': tar_rgb})
            return out[key][:, 0]  # [B,C,512,512]

    wrapper = Exported(net).eval()
    dummy = torch.rand(2, 3, 512, 512)
    with torch.no_grad():
        reference = wrapper(dummy)
    if tuple(reference.shape) != (2, channels, 512, 512):
        sys.exit(f'error: the network returned {tuple(reference.shape)}, expected (2, {channels}, 512, 512)')

    torch.onnx.export(
        wrapper,
        (dummy,),
        args.out,
        input_names=['image'],
        output_names=[kind],
        dynamic_axes={'image': {0: 'B'}, kind: {0: 'B'}},
        opset_version=args.opset,
        do_constant_folding=True,
    )
    print(f'wrote {args.out}: image [B,3,512,512] -> {kind} [B,{channels},512,512]')

    if args.no_check:
        return
    try:
        import numpy as np
        import onnxruntime as ort
    except ImportError:
        print('onnxruntime not installed: skipped the comparison with PyTorch (pip install onnxruntime)')
        return
    sess = ort.InferenceSession(args.out, providers=['CPUExecutionProvider'])
    got = sess.run([kind], {'image': dummy.numpy()})[0]
    err = float(np.max(np.abs(got - reference.numpy())))
    print(f'onnxruntime vs PyTorch: max abs difference {err:.2e}')
    if err > 1e-3:
        sys.exit('error: the exported graph does not match PyTorch (difference > 1e-3)')


if __name__ == '__main__':
    main()
