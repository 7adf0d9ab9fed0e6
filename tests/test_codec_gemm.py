"The codec's inference path (long layers as chunked GEMMs, no autograd) against torch's convolutions, over many random layers."
import math
import pytest, torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st
import mmd_music.codec as codec_module
from mmd_music.codec import Codec, ResidualUnit, SConv1d, SConvTranspose1d, codec_config


@pytest.fixture
def gemm_everywhere(monkeypatch):
    "Every layer takes the GEMM path; `chunk(n)` sets the time steps per chunk so that chunk boundaries fall anywhere."
    monkeypatch.setattr(codec_module, 'GEMM_MIN_LENGTH', 1)
    return lambda n: monkeypatch.setattr(codec_module, '_chunk', lambda features: n)


def _agree(layer, x):
    ref = layer(x).detach()                                   # autograd on: torch's convolutions
    with torch.no_grad(): got = layer(x)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5 * max(1.0, ref.abs().max().item()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 9), st.integers(1, 6), st.integers(1, 4), st.integers(1, 3),
       st.integers(1, 300), st.integers(1, 50), st.booleans())
def test_sconv1d(gemm_everywhere, cin, cout, kernel, stride, dilation, batch, length, chunk, strided_input):
    assume(kernel >= stride)                                    # a frame never skips samples
    gemm_everywhere(chunk)
    torch.manual_seed(length)
    if stride > 1: dilation = 1                                 # EnCodec's downsampling layers are not dilated
    layer = SConv1d(cin, cout, kernel, stride, dilation)
    x = torch.randn(batch, cin, 2 * length)[..., ::2] if strided_input else torch.randn(batch, cin, length)
    _agree(layer, x)                                            # kernels not a multiple of the stride fall back to torch


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 8), st.integers(1, 4), st.integers(1, 2), st.integers(1, 60), st.integers(1, 20))
def test_sconvtranspose1d(gemm_everywhere, cin, cout, stride, blocks, batch, frames, chunk):
    gemm_everywhere(chunk)
    torch.manual_seed(frames)
    _agree(SConvTranspose1d(cin, cout, blocks * stride, stride), torch.randn(batch, cin, frames))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(2, 8), st.integers(1, 4), st.sampled_from(['elu', 'snake']), st.integers(1, 2), st.integers(8, 300), st.integers(1, 64))
def test_residual_unit(gemm_everywhere, dim, dilation, act, batch, length, chunk):
    gemm_everywhere(chunk)
    torch.manual_seed(length)
    _agree(ResidualUnit(dim, dilation=dilation, act=act), torch.randn(batch, dim, length))


def test_whole_codec_at_the_default_threshold():
    "The cpu codec on 1.5 s clips, where the full-rate layers pass GEMM_MIN_LENGTH: same latent, codes and audio."
    torch.manual_seed(0)
    codec = Codec(codec_config('cpu')).eval()
    codec.quantizer.init_from(torch.randn(4096, 64))
    wav = 0.3 * torch.randn(2, 1, 48000).clamp(-1, 1)
    assert wav.shape[-1] >= codec_module.GEMM_MIN_LENGTH
    ref_latent = codec.encoder(wav).detach()
    with torch.no_grad():
        latent = codec.encoder(wav)
        torch.testing.assert_close(latent, ref_latent, rtol=1e-5, atol=1e-5)
        codes = codec.encode(wav)
        ref_codes = codec.quantizer(ref_latent, update=False).codes
        assert (codes == ref_codes).float().mean() > 0.999          # a near-tie may flip a code at float rounding
    ref_wav = codec.decoder(codec.quantizer.decode(ref_codes)).detach()
    with torch.no_grad(): got_wav = codec.decode(ref_codes)
    torch.testing.assert_close(got_wav, ref_wav, rtol=1e-5, atol=1e-5)


def test_fallbacks_keep_torch_semantics(gemm_everywhere):
    "An ELU unit whose two activations differ, and CPU autocast, take torch's layers: same results, same dtype."
    gemm_everywhere(5)
    torch.manual_seed(0)
    unit = ResidualUnit(4); unit.block[2].alpha = 2.0
    _agree(unit, torch.randn(2, 4, 50))
    conv, x = SConv1d(4, 3, 3), torch.randn(2, 4, 50)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        ref = conv(x).detach()
        with torch.no_grad(): got = conv(x)
    assert got.dtype == ref.dtype == torch.bfloat16 and torch.equal(got, ref)


@pytest.mark.skipif(not codec_module.runs_on_glibc(), reason='retain_freed_memory needs glibc')
def test_retain_freed_memory_in_a_child_process():
    "In its own process only: no new page faults for a large block allocated again, the GEMM path off, the codec unchanged."
    import subprocess, sys
    code = ("import math, resource, torch, mmd_music.codec as c\n"
            "torch.manual_seed(0); codec = c.Codec(c.codec_config('cpu')).eval(); codec.quantizer.init_from(torch.randn(4096, 64))\n"
            "wav = 0.3 * torch.randn(1, 1, 40000).clamp(-1, 1)\n"
            "with torch.no_grad(): before = codec.decoder(codec.encoder(wav))\n"
            "faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "def alloc():\n    n = faults(); torch.ones(25_000_000); return faults() - n\n"
            "fresh = alloc()\n"
            "assert c.retain_freed_memory() and math.isinf(c.GEMM_MIN_LENGTH)\n"
            "alloc(); alloc(); kept = alloc()                      # steady from the third block on\n"
            "assert fresh > 10_000 and kept < fresh / 10, (fresh, kept)\n"
            "with torch.no_grad(): after = codec.decoder(codec.encoder(wav))\n"
            "torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5); print('ok')")
    run = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == 'ok', run.stderr[-2000:]
    assert codec_module.GEMM_MIN_LENGTH == 16384                 # this process is untouched
    with pytest.raises(ValueError, match='mmap_threshold'): codec_module.retain_freed_memory(2 ** 32)
