"""Inference-only fast forms of the models: the same functions as the plain modules, computed faster on a CPU.

`fuse_for_inference(model)` returns an eval-only module (no gradients, no dropout, frozen batch-norm
statistics) that computes what `model.eval()` computes, to float32 rounding (about 1e-6 m):

- every batch norm is folded into the convolution or linear layer beside it (also the one after the
  temporal-attention Linear and the ones before Mish), and a depthwise-separable stem on the 34 input
  channels becomes one (3*34 -> C) matrix;
- activations are channels-last, (B, T, C) row-major, so each 1x1 convolution is one (B*T, C) @ (C, C')
  matrix multiply with its weight stored pre-transposed, and strided samplings are views, not copies;
- the three kernel-attention branches are computed together: their depthwise taps as a few multiply-adds
  over strided views of one edge-padded input, their grouped 1x1 convolutions as one batched matmul;
- Mish is computed from one exp and a few in-place operations (torch's Mish kernel costs ~5x more here);
- whole sequences (`lift_padded`): the stem and the input branches see the same frames in every window,
  so they are computed once per frame and every window reads them through a strided view;
- streams (`FusedStream`): the same per pushed frame, with rings of past rows instead of recomputation.

`precision="bf16"` multiplies matrices in bfloat16 (float32 accumulation, activations rounded to bf16 at
each matmul input): about twice as fast where the CPU has avx512_bf16/AMX, but not bit-for-bit the same
function (errors of order 1e-3 relative); it is never the default.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from poselift.models.attention import AttentionTemporalNet
from poselift.models.videopose3d import VideoPose3DNet

PRECISIONS = ("fp32", "bf16")


# --- elementwise helpers -------------------------------------------------------------------------

def mish_ratio(x: Tensor) -> Tensor:
    """tanh(softplus(x)) as a new tensor, from one exp: with n = e^x, it is n(n+2) / (n(n+2) + 2)."""
    r = torch.clamp(x, max=20.0)  # beyond 20 the ratio is 1 in float32; the clamp keeps inf/inf away
    r.exp_()
    t = r + 2.0
    r.mul_(t)
    torch.add(r, 2.0, out=t)
    return r.div_(t)


def mish_(x: Tensor) -> Tensor:
    """Mish in place: x * tanh(softplus(x)); returns x."""
    return x.mul_(mish_ratio(x))


def mish_add(x: Tensor, residual: Tensor) -> Tensor:
    """residual + Mish(x), as a new tensor (x is consumed as scratch)."""
    return torch.addcmul(residual, x, mish_ratio(x))


def _offset(step: int, causal: bool) -> int:
    """Where sampling every `step` frames starts (as in the plain models): group centre, or last frame."""
    return step - 1 if causal else (step - 1) // 2


def _bn(bn: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    """A batch norm in eval mode as y = scale * x + shift, float64."""
    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
    return scale, bn.bias.double() - bn.running_mean.double() * scale


def _f32(t: Tensor) -> Tensor:
    return t.detach().to(torch.float32).contiguous()


class _Fused(nn.Module):
    """Common parts: weights kept as buffers (so `.to()` moves them), matmuls in float32 or bfloat16."""

    def __init__(self, model: nn.Module, precision: str):
        super().__init__()
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.config = model.config
        self.receptive_field = int(model.receptive_field)
        self.causal = bool(model.causal)
        self.meta = dict(getattr(model, "meta", {}))
        self.precision = precision
        self._mm_dtype = torch.bfloat16 if precision == "bf16" else torch.float32

    def _add_linear(self, name: str, weight: Tensor, bias: Tensor | None) -> None:
        """weight (in, out), applied as x @ weight + bias."""
        self.register_buffer(f"{name}_w", _f32(weight).to(self._mm_dtype), persistent=False)
        if bias is not None:
            self.register_buffer(f"{name}_b", _f32(bias), persistent=False)

    def _linear(self, x: Tensor, name: str) -> Tensor:
        """(N, in) -> (N, out) = x @ W + b, float32 out."""
        buffers = self._buffers
        w, b = buffers[f"{name}_w"], buffers.get(f"{name}_b")
        if w.dtype != torch.float32:
            y = torch.mm(x.to(w.dtype), w)
            return y.float() if b is None else torch.add(y, b)
        return torch.mm(x, w) if b is None else torch.addmm(b, x, w)

    def train(self, mode: bool = True) -> _Fused:
        if mode:
            raise RuntimeError("a fused model is for inference only; train the plain model")
        return super().train(False)


# --- the attention network ---------------------------------------------------------------------

def _dwsep_dense(module) -> tuple[Tensor, Tensor]:
    """DWSep(cin -> cout) with both batch norms as one (3*cin, cout) matrix over a triplet's rows, and a bias."""
    s1, t1 = _bn(module.depthwise_bn)
    s2, t2 = _bn(module.pointwise_bn)
    dw = module.depthwise.weight.double()[:, 0, :]  # (cin, 3)
    pw = module.pointwise.weight.double()[:, :, 0]  # (cout, cin)
    weight = torch.einsum("o,oc,c,ck->kco", s2, pw, s1, dw).reshape(3 * dw.shape[0], pw.shape[0])
    return weight, s2 * (pw @ t1) + t2


def _dwsep_split(module) -> tuple[Tensor, Tensor, Tensor]:
    """DWSep(C -> C) as folded depthwise taps (3, C), pointwise (C, C) transposed, and bias (C,)."""
    s1, t1 = _bn(module.depthwise_bn)
    s2, t2 = _bn(module.pointwise_bn)
    dw = module.depthwise.weight.double()[:, 0, :] * s1[:, None]  # (C, 3)
    pw = module.pointwise.weight.double()[:, :, 0]  # (cout, cin)
    return dw.T, (pw * s2[:, None]).T, s2 * (pw @ t1) + t2


def _conv1x1_bn(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> tuple[Tensor, Tensor]:
    """1x1 conv (no bias) followed by BN as (cin, cout) weight and bias."""
    s, t = _bn(bn)
    return (conv.weight.double()[:, :, 0] * s[:, None]).T, t


def _tap_plan(starts: list[list[int]]) -> list[tuple[str, int, int, list[int]]]:
    """Group each depthwise tap's start rows across branches: one broadcast or strided op when possible.

    starts[k][m]: the padded-row offset of tap k in branch m. Returns per tap (kind, first, step, all starts).
    """
    plan = []
    for tap in starts:
        steps = {b - a for a, b in zip(tap, tap[1:], strict=False)}
        if len(tap) == 1 or steps == {0}:
            plan.append(("broadcast", tap[0], 0, tap))
        elif len(steps) == 1 and min(steps) > 0:
            plan.append(("strided", tap[0], steps.pop(), tap))
        else:
            plan.append(("each", tap[0], 0, tap))
    return plan


class FusedAttentionNet(_Fused):
    """The attention network for inference: (B, receptive_field, J, 2) -> (B, 1, J, 3), as the plain model.

    Also `lift_padded` for whole edge-padded sequences (shared stem and input branches) and `stream()`.
    """

    def __init__(self, model: AttentionTemporalNet, precision: str = "fp32"):
        super().__init__(model, precision)
        cfg = model.config
        self.channels = cfg.channels
        self.cin = cfg.num_joints_in * cfg.in_features
        self.joints_out = cfg.num_joints_out
        self.num_layers = model.num_layers
        self.stem_rows = self.receptive_field // 3
        self._add_linear("stem", *_dwsep_dense(model.stem))
        self.input_steps = [3**k for k in range(1, len(model.input_branches) + 1)]
        for k, branch in enumerate(model.input_branches, start=1):
            self._add_linear(f"input{k}", *_dwsep_dense(branch))
        # Temporal gates: all layers' Linear+BN in one (RF, sum of positions) matrix.
        self.gate_sizes = [g.linear.out_features for g in model.gates]
        if model.gates:
            weights, biases = [], []
            for gate in model.gates:
                s, t = _bn(gate.bn)
                weights.append((gate.linear.weight.double() * s[:, None]).T)
                biases.append(s * gate.linear.bias.double() + t)
            self._add_linear("gate", torch.cat(weights, 1), torch.cat(biases))
        # Kernel attention: branches ordered by decreasing dilation (so equal taps line up as strided views).
        first = model.layers[0].kernel_attention
        self.ka_order = sorted(range(len(first.branches)), key=lambda m: -(m + 1))
        self.ka_dilations = [m + 1 for m in self.ka_order]
        self.ka_groups = first.branches[0].grouped.groups
        pads = [first.branches[m].pad for m in self.ka_order]
        self.ka_pad = (max(p[0] for p in pads), max(p[1] for p in pads))
        starts = [[d * k - pad[0] + self.ka_pad[0] for d, pad in zip(self.ka_dilations, pads, strict=True)]
                  for k in range(3)]
        self.ka_plan = _tap_plan(starts)
        for i, layer in enumerate(model.layers):
            self._fold_kernel_attention(i, layer.kernel_attention)
            self._add_linear(f"layer{i}", *_conv1x1_bn(layer.pointwise, layer.bn))
        self.skip_routes = list(model.skip_routes)
        for j, skip in enumerate(model.skips):
            dw, pw, b = _dwsep_split(skip.dwsep)
            self.register_buffer(f"skip{j}_dw", _f32(dw), persistent=False)
            self._add_linear(f"skip{j}_pw", pw, b)
            self._add_linear(f"skip{j}_res", *_conv1x1_bn(skip.pointwise, skip.bn))
        self._add_linear("head", model.head.weight.double()[:, :, 0].T, model.head.bias.double())

    def _fold_kernel_attention(self, i: int, ka) -> None:
        dws, gws, gbs = [], [], []
        groups, c = self.ka_groups, self.channels
        cg = c // groups
        for m in self.ka_order:
            branch = ka.branches[m]
            sd, td = _bn(branch.depthwise_bn)
            sg, tg = _bn(branch.grouped_bn)
            dws.append(branch.depthwise.weight.double()[:, 0, :].T * sd)  # (3, C)
            g = branch.grouped.weight.double()[:, :, 0] * sg[:, None]  # (C, C/groups): row o, input in o's group
            blocks = g.reshape(groups, cg, cg)  # [group, out, in]
            gws.append(blocks.transpose(1, 2))  # [group, in, out]
            shift = torch.einsum("goi,gi->go", blocks, td.reshape(groups, cg)).reshape(c)
            gbs.append(shift + tg)
        self.register_buffer(f"ka{i}_dw", _f32(torch.stack(dws, 1)), persistent=False)  # (3 taps, M, C)
        self._add_linear(f"ka{i}_g", torch.cat(gws), None)  # (M*groups, cg, cg)
        self.register_buffer(f"ka{i}_gb", _f32(torch.stack(gbs)), persistent=False)  # (M, C)
        if len(ka.branches) > 1:
            self._add_linear(f"ka{i}_sq", ka.squeeze.weight.double().T, ka.squeeze.bias.double())
            self._add_linear(
                f"ka{i}_ex",
                torch.cat([ka.excite[m].weight.double().T for m in self.ka_order], 1),
                torch.cat([ka.excite[m].bias.double() for m in self.ka_order]),
            )

    # --- shared pieces ---------------------------------------------------------------------------

    def scores(self, centred: Tensor) -> Tensor:
        """(B, RF, 2J) root-centred windows -> (B, RF) cosine similarity to the target frame (as the plain model)."""
        target = centred[:, -1:] if self.causal else centred[:, self.receptive_field // 2 :][:, :1]
        return F.cosine_similarity(centred, target, dim=-1, eps=1e-6)

    def _rows(self, x: Tensor, name: str) -> Tensor:
        """Mish(DWSep) of triplet rows (N, 3*cin) -> (N, C)."""
        return mish_(self._linear(x, name))

    def _kernel_attention(self, i: int, u_pad: Tensor, n: int) -> Tensor:
        """Kernel attention of layer i on the edge-padded input (B, n + pads, C) -> (B, n/3, C)."""
        p = self._buffers
        batch, c = u_pad.shape[0], self.channels
        rows = n // 3
        m_count = len(self.ka_dilations)
        dw = p[f"ka{i}_dw"]  # (3, M, C)
        sb, base = u_pad.stride(0), u_pad.storage_offset()
        d = torch.empty(batch, rows, m_count, c, dtype=u_pad.dtype, device=u_pad.device)
        for k, (kind, first, step, starts) in enumerate(self.ka_plan):
            if kind == "broadcast":
                view = u_pad.as_strided((batch, rows, 1, c), (sb, 3 * c, 0, 1), base + first * c)
            elif kind == "strided":
                view = u_pad.as_strided((batch, rows, m_count, c), (sb, 3 * c, step * c, 1), base + first * c)
            if kind != "each":
                if k == 0:
                    torch.mul(view, dw[k], out=d)
                else:
                    d.addcmul_(view, dw[k])
                continue
            for m, start in enumerate(starts):
                view = u_pad.as_strided((batch, rows, c), (sb, 3 * c, 1), base + start * c)
                if k == 0:
                    torch.mul(view, dw[k, m], out=d[:, :, m])
                else:
                    d[:, :, m].addcmul_(view, dw[k, m])
        # Grouped 1x1 convolutions of all branches: one batched matmul over (branch, group) blocks.
        groups = self.ka_groups
        cg = c // groups
        n_rows = batch * rows
        w = p[f"ka{i}_g_w"]
        e = torch.empty(batch, rows, m_count, c, dtype=torch.float32, device=u_pad.device)
        lhs = d.view(n_rows, m_count * groups, cg).transpose(0, 1)
        if w.dtype != torch.float32:
            e.view(n_rows, m_count * groups, cg).transpose(0, 1).copy_(torch.bmm(lhs.to(w.dtype), w))
        else:
            torch.bmm(lhs, w, out=e.view(n_rows, m_count * groups, cg).transpose(0, 1))
        e.add_(p[f"ka{i}_gb"])
        mish_(e)
        if m_count == 1:
            return e[:, :, 0]
        pooled = e.sum(dim=1).sum(dim=1).div_(rows)  # (B, C): mean over time of the sum of branches
        logits = self._linear(self._linear(pooled, f"ka{i}_sq"), f"ka{i}_ex").view(batch, m_count, c)
        weights = torch.softmax(logits, dim=1).unsqueeze(1)  # (B, 1, M, C)
        out = torch.mul(e[:, :, 0], weights[:, :, 0])
        for m in range(1, m_count):
            out.addcmul_(e[:, :, m], weights[:, :, m])
        return out

    def _trunk(self, h: Tensor, inputs: dict[int, Tensor], scores: Tensor) -> Tensor:
        """Layers from level 0 on: h (B, RF/3, C) (may be a strided view), input branches per level, scores (B, RF).

        Returns (B, 1, J, 3).
        """
        batch, c = h.shape[0], self.channels
        causal = self.causal
        off3 = _offset(3, causal)
        pad_l, pad_r = self.ka_pad
        gates = torch.sigmoid_(self._linear(scores, "gate")) if self.gate_sizes else None
        incoming: dict[int, list[Tensor]] = {k: [v] for k, v in inputs.items()}
        position = 0
        for i in range(self.num_layers):
            n = h.shape[1]
            gate = None
            if gates is not None:
                gate = gates[:, position : position + n].unsqueeze(-1)  # (B, n, 1)
                position += n
            residual = h[:, off3::3]
            extras = incoming.pop(i, [])
            u_pad = torch.empty(batch, n + pad_l + pad_r, c, dtype=h.dtype, device=h.device)
            u = u_pad[:, pad_l : pad_l + n]
            if extras:
                total = h + extras[0]
                for extra in extras[1:]:
                    total.add_(extra)
                torch.mul(total, gate, out=u) if gate is not None else u.copy_(total)
            elif gate is not None:
                torch.mul(h, gate, out=u)
            else:
                u.copy_(h)
            routes = [(j, k) for j, (source, k) in enumerate(self.skip_routes) if source == i]
            if routes:
                gated = u if not extras else (h * gate if gate is not None else h)
                for j, k in routes:
                    incoming.setdefault(i + 1 + k, []).append(self._skip(j, k, gated, residual))
            if pad_l:
                u_pad[:, :pad_l] = u[:, :1]
            if pad_r:
                u_pad[:, pad_l + n :] = u[:, -1:]
            attended = self._kernel_attention(i, u_pad, n)
            pre = self._linear(attended.reshape(-1, c), f"layer{i}").view(batch, n // 3, c)
            h = mish_add(pre, residual)
        out = self._linear(h.reshape(batch, c), "head")
        return out.view(batch, 1, self.joints_out, 3)

    def _skip(self, j: int, k: int, gated: Tensor, residual: Tensor) -> Tensor:
        """Skip branch j (sampling every 3^k) from the gated level (B, n, C) -> (B, n/3^(k+1), C)."""
        batch, n, c = gated.shape
        step = 3**k
        start = _offset(step, self.causal)
        rows = n // step // 3
        sb, st, sc = gated.stride()
        triplets = gated.as_strided(
            (batch, rows, 3, c), (sb, 3 * step * st, step * st, sc), gated.storage_offset() + start * st
        )
        dw = self._buffers[f"skip{j}_dw"]
        d = torch.empty(batch, rows, c, dtype=gated.dtype, device=gated.device)
        torch.mul(triplets[:, :, 0], dw[0], out=d)
        d.addcmul_(triplets[:, :, 1], dw[1]).addcmul_(triplets[:, :, 2], dw[2])
        x = self._rows(d.view(-1, c), f"skip{j}_pw")
        pre = self._linear(x, f"skip{j}_res").view(batch, rows, c)
        return mish_add(pre, residual[:, start::step])

    # --- windows ---------------------------------------------------------------------------------

    @torch.inference_mode()
    def forward(self, x: Tensor) -> Tensor:
        """Windows (B, receptive_field, J, 2) -> (B, 1, J, 3) root-relative metres."""
        batch, frames = x.shape[:2]
        rf, c = self.receptive_field, self.channels
        if frames != rf:
            raise ValueError(f"expected windows of {rf} frames, got {frames}")
        seq = x.reshape(batch, rf, self.cin).float().contiguous()
        h0 = self._rows(seq.view(batch * rf // 3, 3 * self.cin), "stem").view(batch, rf // 3, c)
        inputs = {}
        for k, step in enumerate(self.input_steps, start=1):
            sampled = seq[:, _offset(step, self.causal) :: step]
            rows = rf // step // 3
            inputs[k] = self._rows(sampled.reshape(batch * rows, 3 * self.cin), f"input{k}").view(batch, rows, c)
        centred = (x - x[:, :, :1]).flatten(2).float()
        scores = self.scores(centred) if self.gate_sizes else None
        return self._trunk(h0, inputs, scores)

    # --- whole sequences -------------------------------------------------------------------------

    def _tables(self, frames: Tensor) -> tuple[Tensor, dict[int, Tensor]]:
        """Per-frame stem rows (N-2, C) and input-branch rows (N - 2*3^k, C) of a (N, cin) frame block."""
        stem = self._rows(frames.unfold(0, 3, 1).transpose(1, 2).reshape(-1, 3 * self.cin), "stem")
        inputs = {}
        for k, step in enumerate(self.input_steps, start=1):
            taps = frames.unfold(0, 2 * step + 1, 1)[:, :, ::step]  # (N - 2 step, cin, 3)
            inputs[k] = self._rows(taps.transpose(1, 2).reshape(-1, 3 * self.cin), f"input{k}")
        return stem, inputs

    def _window_views(self, stem: Tensor, inputs: dict[int, Tensor], first: int, count: int):
        """Level-0 rows and input-branch rows of `count` windows starting at table row `first`, as views."""
        c, rf = self.channels, self.receptive_field
        h0 = stem.as_strided((count, rf // 3, c), (c, 3 * c, 1), stem.storage_offset() + first * c)
        views = {}
        for k, step in enumerate(self.input_steps, start=1):
            table = inputs[k]
            start = first + _offset(step, self.causal)
            views[k] = table.as_strided((count, rf // step // 3, c), (c, 3 * step * c, 1),
                                        table.storage_offset() + start * c)
        return h0, views

    @torch.inference_mode()
    def lift_padded(self, padded: Tensor, batch_size: int = 64, chunk_windows: int = 2048) -> Tensor:
        """An edge-padded sequence (T + RF - 1, J, 2) -> (T, J, 3): one output per window, windows in batches."""
        rf = self.receptive_field
        total = padded.shape[0] - rf + 1
        frames_all = padded.reshape(padded.shape[0], self.cin).float()
        centred_all = (padded - padded[:, :1]).reshape(padded.shape[0], self.cin).float().contiguous()
        out = torch.empty(total, self.joints_out, 3, device=padded.device)
        target = rf - 1 if self.causal else rf // 2
        for chunk in range(0, total, chunk_windows):
            count = min(chunk_windows, total - chunk)
            stem, inputs = self._tables(frames_all[chunk : chunk + count + rf - 1])
            for first in range(0, count, batch_size):
                size = min(batch_size, count - first)
                h0, views = self._window_views(stem, inputs, first, size)
                scores = None
                if self.gate_sizes:
                    windows = centred_all.as_strided((size, rf, self.cin), (self.cin, self.cin, 1),
                                                     (chunk + first) * self.cin)
                    targets = centred_all[chunk + first + target : chunk + first + target + size].unsqueeze(1)
                    scores = F.cosine_similarity(windows, targets, dim=-1, eps=1e-6)
                out[chunk + first : chunk + first + size] = self._trunk(h0, views, scores)[:, 0]
        return out

    def stream(self, flip_permutation: np.ndarray | None = None) -> FusedStream:
        """A frame-by-frame lifter (causal model) that reuses the stem and input-branch rows of past frames."""
        return FusedStream(self, flip_permutation)


class FusedStream:
    """Causal frame-by-frame lifting with the fused network; the same outputs as re-running each window.

    Each push computes only the newest stem and input-branch rows; older rows live in rings (written twice,
    so the last R rows are always one contiguous view). With a flip permutation the mirrored input runs in
    the same batch and the output is the flip average, as in `LiftStream`.
    """

    def __init__(self, net: FusedAttentionNet, flip_permutation: np.ndarray | None = None):
        if not net.causal:
            raise ValueError("streaming needs a causal model")
        self.net = net
        self.flip = None if flip_permutation is None else torch.as_tensor(np.asarray(flip_permutation))
        self.batch = 1 if self.flip is None else 2
        rf = net.receptive_field
        self.ring_rows = {"frames": rf, "stem": rf - 2}
        for k, step in enumerate(net.input_steps, start=1):
            self.ring_rows[f"input{k}"] = rf - 3 * step + 1
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts a new stream."""
        self.rings: dict[str, Tensor] = {}
        self.position = 0

    def _ring_push(self, name: str, rows: Tensor) -> None:
        ring, size = self.rings[name], self.ring_rows[name]
        pos = self.position % size
        ring[:, pos] = rows
        ring[:, pos + size] = rows

    def _ring_view(self, name: str) -> Tensor:
        size = self.ring_rows[name]
        pos = (self.position % size) + 1
        return self.rings[name][:, pos : pos + size]

    def _frame_rows(self, frame: Tensor) -> Tensor:
        """(J, 2) -> (batch, cin): the frame, and its mirror image when flip averaging."""
        rows = [frame]
        if self.flip is not None:
            mirrored = frame[self.flip].clone()
            mirrored[:, 0] *= -1
            rows.append(mirrored)
        return torch.stack(rows).reshape(self.batch, -1)

    @torch.inference_mode()
    def push(self, frame_2d: np.ndarray | Tensor) -> np.ndarray:
        """frame_2d (J, 2) normalised screen coordinates -> (J, 3) root-relative metres, camera frame."""
        net = self.net
        rf, c, cin = net.receptive_field, net.channels, net.cin
        frame = torch.as_tensor(np.asarray(frame_2d, dtype=np.float32))
        x = self._frame_rows(frame)  # (batch, cin)
        if not self.rings:
            self._start(x)
        else:
            self.position += 1
            self._ring_push("frames", x)
            frames = self._ring_view("frames")  # (batch, RF, cin), newest last
            self._ring_push("stem", net._rows(frames[:, -3:].reshape(self.batch, 3 * cin), "stem"))
            for k, step in enumerate(net.input_steps, start=1):
                taps = frames[:, rf - 1 - 2 * step :: step].reshape(self.batch, 3 * cin)
                self._ring_push(f"input{k}", net._rows(taps, f"input{k}"))
        frames = self._ring_view("frames")
        h0 = self._ring_view("stem")[:, ::3]
        inputs = {k: self._ring_view(f"input{k}")[:, :: 3 * step] for k, step in enumerate(net.input_steps, start=1)}
        scores = None
        if net.gate_sizes:
            j = frames.shape[-1] // 2
            centred = (frames.view(self.batch, rf, j, 2) - frames.view(self.batch, rf, j, 2)[:, :, :1]).flatten(2)
            scores = net.scores(centred)
        out = net._trunk(h0, inputs, scores)[:, 0]  # (batch, J, 3)
        if self.flip is None:
            return out[0].numpy()
        mirrored = out[1, self.flip].clone()
        mirrored[:, 0] *= -1
        return ((out[0] + mirrored) / 2).numpy()

    def _start(self, x: Tensor) -> None:
        """The first frame fills the whole window (edge padding), so every ring starts full."""
        net = self.net
        rf = net.receptive_field
        frames = x.unsqueeze(1).expand(self.batch, rf, x.shape[-1])
        tables = [net._tables(frames[b]) for b in range(self.batch)]
        sources = {"frames": frames, "stem": torch.stack([t[0] for t in tables])}
        for k in range(1, len(net.input_steps) + 1):
            sources[f"input{k}"] = torch.stack([t[1][k] for t in tables])
        for name, size in self.ring_rows.items():
            rows = sources[name][:, -size:]
            self.rings[name] = torch.cat([rows, rows], dim=1).contiguous()
        self.position = -1  # so that the view of the last `size` rows starts at row 0


# --- VideoPose3D -------------------------------------------------------------------------------

class FusedVideoPose3DNet(_Fused):
    """VideoPose3D's network for inference in its full-sequence form, channels-last, batch norms folded.

    forward: (B, T, J, 2) -> (B, T - RF + 1, J, 3), like the plain model's forward_sequence (and its
    strided form on windows of exactly RF frames, which computes the same).
    """

    def __init__(self, model: VideoPose3DNet, precision: str = "fp32"):
        super().__init__(model, precision)
        cfg = model.config
        self.cin = cfg.num_joints_in * cfg.in_features
        self.joints_out = cfg.num_joints_out
        self.widths = list(cfg.filter_widths)
        s, t = _bn(model.expand_bn)
        w = model.expand_conv.weight.double()  # (C, cin, w0)
        self._add_linear("expand", torch.einsum("o,ock->kco", s, w).reshape(-1, w.shape[0]), t)
        self.blocks: list[tuple[int, int, int]] = []  # (width, dilation, residual offset)
        for b, block in enumerate(model.blocks):
            s, t = _bn(block.dilated_bn)
            w = block.dilated.weight.double()  # (C, C, width)
            self._add_linear(f"block{b}_dilated", torch.einsum("o,ock->kco", s, w).reshape(-1, w.shape[0]), t)
            self._add_linear(f"block{b}_pw", *_conv1x1_bn(block.pointwise, block.pointwise_bn))
            pad = (block.width - 1) * block.dilation // 2
            self.blocks.append((block.width, block.dilation, pad + (pad if block.causal else 0)))
        self._add_linear("head", model.head.weight.double()[:, :, 0].T, model.head.bias.double())

    def _dilated(self, h: Tensor, name: str, width: int, dilation: int) -> Tensor:
        """Dilated conv as `width` accumulated matmuls over row-shifted views: (N, C) -> (N - (w-1)d, C)."""
        rows = h.shape[0] - (width - 1) * dilation
        w, b = self._buffers[f"{name}_w"], self._buffers[f"{name}_b"]
        cin = h.shape[1]
        if w.dtype != torch.float32:
            cols = h.as_strided((rows, width, cin), (cin, dilation * cin, 1)).to(w.dtype)
            return torch.add(torch.mm(cols.view(rows, width * cin), w), b)
        y = torch.addmm(b, h[:rows], w[:cin])
        for k in range(1, width):
            y.addmm_(h[k * dilation : k * dilation + rows], w[k * cin : (k + 1) * cin])
        return y

    def _sequence(self, x: Tensor) -> Tensor:
        """(N, cin) -> (N - RF + 1, 3J)."""
        w0 = self.widths[0]
        rows = x.shape[0] - w0 + 1
        h = self._dilated(x, "expand", w0, 1).relu_() if w0 > 1 else self._linear(x, "expand").relu_()
        del rows
        for b, (width, dilation, offset) in enumerate(self.blocks):
            y = self._dilated(h, f"block{b}_dilated", width, dilation).relu_()
            z = self._linear(y, f"block{b}_pw").relu_()
            h = z.add_(h[offset : offset + z.shape[0]])
        return self._linear(h, "head")

    @torch.inference_mode()
    def forward(self, x: Tensor) -> Tensor:
        """(B, T, J, 2), T >= RF -> (B, T - RF + 1, J, 3)."""
        batch, frames = x.shape[:2]
        if frames < self.receptive_field:
            raise ValueError(f"need at least {self.receptive_field} frames, got {frames}")
        seq = x.reshape(batch, frames, self.cin).float()
        outs = [self._sequence(seq[b].contiguous()) for b in range(batch)]
        return torch.stack(outs).view(batch, -1, self.joints_out, 3)

    forward_sequence = forward

    @torch.inference_mode()
    def lift_padded(self, padded: Tensor, chunk_frames: int = 8192) -> Tensor:
        """An edge-padded sequence (T + RF - 1, J, 2) -> (T, J, 3), in overlapping chunks (bounded memory)."""
        rf = self.receptive_field
        total = padded.shape[0] - rf + 1
        seq = padded.reshape(padded.shape[0], self.cin).float()
        out = torch.empty(total, self.joints_out, 3, device=padded.device)
        for start in range(0, total, chunk_frames):
            stop = min(total, start + chunk_frames)
            out[start:stop] = self._sequence(seq[start : stop + rf - 1].contiguous()).view(-1, self.joints_out, 3)
        return out


# --- entry points ------------------------------------------------------------------------------

def supports_fusion(model: nn.Module) -> bool:
    """True when `fuse_for_inference` has a fast form for this model."""
    return isinstance(model, AttentionTemporalNet | VideoPose3DNet)


def fuse_for_inference(model: nn.Module, precision: str = "fp32") -> FusedAttentionNet | FusedVideoPose3DNet:
    """An eval-only module computing what `model.eval()` computes, faster; a snapshot of the current weights.

    precision "fp32" (default) is the same function to float32 rounding; "bf16" multiplies in bfloat16.
    """
    if isinstance(model, AttentionTemporalNet):
        return FusedAttentionNet(model, precision).eval()
    if isinstance(model, VideoPose3DNet):
        return FusedVideoPose3DNet(model, precision).eval()
    raise TypeError(f"no fused form for {type(model).__name__}")
