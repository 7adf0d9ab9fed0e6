"Properties of the MMD estimators and the grouping by pattern, over random shapes."
import math
import pytest, torch
from hypothesis import given, settings, strategies as st
from mmd_music.patterns import make_pattern
from mmd_music.mmd import (IndependenceLoss, clip_product, frame_product, group_rows, independence_mmd2,
                           kernel_sum, make_kernel, mmd2, product_sample, shared_pairs)

KERNELS = ['gaussian_code', 'gaussian_paper', 'imq', 'linear', 'quadratic']

def full_sum(a, b, kernel, exclude_diagonal=False):
    t = torch.cdist(a, b).pow(2) if kernel.kind == 'distance' else a @ b.t()
    k = kernel.f(t)
    return k.sum() - (k.diagonal().sum() if exclude_diagonal else 0)

@settings(max_examples=30, deadline=None)
@given(st.integers(2, 90), st.integers(1, 9), st.integers(1, 40), st.sampled_from(KERNELS), st.booleans())
def test_chunked_equals_full_values_and_gradients(n, f, chunk, name, same):
    kernel = make_kernel(name)
    a = torch.randn(n, f, dtype=torch.float64, requires_grad=True)
    b = a if same else torch.randn(n + 3, f, dtype=torch.float64, requires_grad=True)
    inputs = [a] if same else [a, b]
    v1 = kernel_sum(a, None if same else b, kernel, chunk=chunk, exclude_diagonal=same)
    v2 = full_sum(a, b, kernel, exclude_diagonal=same)
    assert torch.allclose(v1, v2, rtol=1e-9, atol=1e-9)
    for g1, g2 in zip(torch.autograd.grad(v1, inputs), torch.autograd.grad(v2, inputs)):
        assert torch.allclose(g1, g2, rtol=1e-8, atol=1e-8)

def test_same_distribution_averages_to_zero_and_biased_is_positive():
    g = torch.Generator().manual_seed(0)
    kernel = make_kernel('gaussian_code')
    u, v = [], []
    for _ in range(60):
        x, y = torch.randn(100, 6, generator=g), torch.randn(100, 6, generator=g)
        u.append(float(mmd2(x, y, kernel, 'unbiased'))); v.append(float(mmd2(x, y, kernel, 'biased')))
    u = torch.tensor(u)
    assert abs(u.mean()) < 4 * u.std() / math.sqrt(len(u))
    assert min(v) > 0

def streams(B, T, rho, K=3, D=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    common = torch.randn(B, 1, D, T, generator=g)
    return math.sqrt(rho) * common + math.sqrt(1 - rho) * torch.randn(B, K, D, T, generator=g)

def rows(s): return s.permute(0, 3, 1, 2).reshape(-1, s.shape[1], s.shape[2])
def clips(s): return s.permute(0, 3, 1, 2)      # [B, T, K, D]

@pytest.mark.parametrize('kernel,estimator', [('gaussian_scaled', 'dhsic'), ('gaussian_median', 'dhsic'), ('gaussian_code', 'unbiased'),
                                              ('gaussian_scaled', 'unbiased'), ('imq', 'unbiased'), ('gaussian_code', 'dhsic')])
def test_estimate_grows_with_correlation(kernel, estimator):
    g = torch.Generator().manual_seed(0)
    est = [float(independence_mmd2(clips(streams(16, 16, r)), kernel, estimator, generator=g)) for r in (0.0, 0.3, 0.6, 0.9)]
    assert est[0] < est[1] < est[2] < est[3], est

def test_reference_grows_with_T_while_unbiased_stays_near_zero():
    g = torch.Generator().manual_seed(0)
    ref, unb = [], []
    for T in (4, 8, 16):
        ref.append(sum(float(independence_mmd2(rows(streams(8, T, 0.0, seed=s)), 'gaussian_code', 'reference', n_clips=8, generator=g)) for s in range(10)) / 10)
        unb.append(sum(float(independence_mmd2(rows(streams(8, T, 0.0, seed=s)), generator=g)) for s in range(10)) / 10)
    assert ref[0] < ref[1] < ref[2] and ref[2] > 1.5 * ref[1]
    assert max(abs(x) for x in unb) < 0.1 * ref[0]

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 40), st.integers(2, 6))
def test_shared_pairs_are_exactly_the_pairs_that_share_a_vector(n, K):
    g = torch.Generator().manual_seed(n * 7 + K)
    r = torch.randn(n, K, 2, generator=g)
    y, perms = frame_product(r, g)
    i, j = shared_pairs(perms)
    want = {(int(perms[jj, k]), jj) for jj in range(n) for k in range(K)}
    assert set(zip(i.tolist(), j.tolist())) == want and len(i) == len(want)
    for k in range(K): assert torch.equal(y[:, k], r[perms[:, k], k])

@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(2, 5), st.integers(1, 3), st.integers(1, 12))
def test_delay_grouping_equals_a_hand_made_shift(B, K, D, T):
    s = torch.randn(B, K, D, T)
    if T < K:
        with pytest.raises(ValueError, match='never predicts all codebooks'): group_rows(s, make_pattern('delay', K).layout(T))
        return
    got = group_rows(s, make_pattern('delay', K).layout(T))                  # [B * (T - K + 1), K, D]
    shifted = torch.stack([s[:, k, :, K - 1 - k:T - k] for k in range(K)], 1)   # codebook k delayed by k, cropped
    assert torch.equal(got, shifted.permute(0, 3, 1, 2).reshape(-1, K, D))
    assert torch.equal(group_rows(s, make_pattern('parallel', K).layout(T)), s.permute(0, 3, 1, 2).reshape(-1, K, D))

def test_bad_inputs():
    k = make_kernel('gaussian_code')
    with pytest.raises(ValueError, match='must both be'): mmd2(torch.randn(3, 2), torch.randn(4, 2), k)
    with pytest.raises(ValueError, match='n_clips'): mmd2(torch.randn(3, 2), torch.randn(3, 2), k, 'reference')
    with pytest.raises(ValueError, match='unknown estimator'): mmd2(torch.randn(3, 2), torch.randn(3, 2), k, 'fast')
    with pytest.raises(ValueError, match='unknown kernel'): make_kernel('laplace')
    with pytest.raises(ValueError, match='at least 2 codebooks'): independence_mmd2(torch.randn(5, 1, 3))
    with pytest.raises(ValueError, match='at least 2 clips'): independence_mmd2(torch.randn(1, 20, 3, 2))
    with pytest.raises(ValueError, match='NaN or inf'): independence_mmd2(torch.full((4, 5, 3, 2), float('nan')))
    with pytest.raises(ValueError, match='NaN or inf'): IndependenceLoss()(torch.tensor([1., float('inf')]).repeat(4, 3, 2, 3))
    with pytest.raises(ValueError, match='no spread'): independence_mmd2(torch.ones(4, 5, 3, 2))
    with pytest.raises(ValueError, match='unknown product'): independence_mmd2(torch.randn(4, 5, 3, 2), product='blocks')
    with pytest.raises(ValueError, match='Gaussian kernel'): independence_mmd2(torch.randn(4, 5, 3, 2), 'imq', 'dhsic')
    with pytest.raises(ValueError, match='Gaussian kernel'): IndependenceLoss(kernel='quadratic')
    with pytest.raises(ValueError, match="must be 'frames'"): independence_mmd2(torch.randn(4, 5, 3, 2), estimator='reference', product='clips')
    with pytest.raises(ValueError, match='unknown kernel'): IndependenceLoss(kernel='laplace', estimator='unbiased')

@settings(max_examples=40, deadline=None)
@given(st.integers(2, 9), st.integers(1, 6), st.integers(2, 5))
def test_clip_product_permutes_clips_per_codebook_and_keeps_time(B, S, K):
    g = torch.Generator().manual_seed(B * 100 + S * 10 + K)
    z = torch.randn(B, S, K, 3, generator=g)
    y, sources = clip_product(z, g)
    for k in range(K):
        assert sorted(sources[:, k].tolist()) == list(range(B))          # a permutation of the clips
        assert torch.equal(y[:, :, k], z[sources[:, k], :, k])            # time index kept
    if B >= K: assert all(len(set(r)) == K for r in sources.tolist())     # K different clips in every product clip
    assert product_sample(z, g).shape == z.shape and product_sample(z[:, 0], g, 'frames').shape == z[:, 0].shape

def ar_clips(B, T, rho, corr, K=3, D=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    def ar(shape):
        e = torch.randn(shape, generator=g); x = torch.empty(shape); x[:, 0] = e[:, 0]
        for t in range(1, T): x[:, t] = rho * x[:, t - 1] + math.sqrt(1 - rho ** 2) * e[:, t]
        return x
    return math.sqrt(corr) * ar((B, T, 1, D)) + math.sqrt(1 - corr) * ar((B, T, K, D))

def test_smooth_independent_streams_read_as_independent_by_the_clip_statistics_only():
    est = {n: [] for n in ('dhsic', 'unbiased', 'frames')}
    for s in range(12):
        z, g = ar_clips(12, 40, 0.95, 0.0, seed=s), torch.Generator().manual_seed(s)
        est['dhsic'].append(float(independence_mmd2(z, generator=g)))
        est['unbiased'].append(float(independence_mmd2(z, estimator='unbiased', generator=g)))
        est['frames'].append(float(independence_mmd2(z, estimator='unbiased', product='frames', generator=g)))
    e = {n: torch.tensor(v) for n, v in est.items()}
    se = {n: float(v.std()) / math.sqrt(len(v)) for n, v in e.items()}
    assert abs(float(e['dhsic'].mean())) < 3 * se['dhsic'] and abs(float(e['unbiased'].mean())) < 4 * se['unbiased']
    assert float(e['frames'].mean()) > 10 * se['frames']                 # the authors' frame shuffle: a false dependence
    dep = float(independence_mmd2(ar_clips(12, 40, 0.95, 0.3, seed=99)))
    assert dep > float(e['dhsic'].mean()) + 5 * float(e['dhsic'].std())     # a correlation of 0.3 stands 5 null sds out

def test_independence_loss_is_the_same_statistic_on_grouped_streams():
    s = torch.randn(6, 3, 4, 10, generator=torch.Generator().manual_seed(0))
    loss = IndependenceLoss('parallel')(s)
    want = independence_mmd2(clips(s), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(loss, want)
    ref = IndependenceLoss('parallel', 'gaussian_code', estimator='reference')(s)
    assert torch.allclose(ref, independence_mmd2(rows(s), 'gaussian_code', 'reference', n_clips=6, generator=torch.Generator().manual_seed(0)))

def test_dependence_measures_refuse_bad_input_and_flag_undersampling():
    from mmd_music.dependence import gaussian_total_correlation, pairwise_mi, total_correlation, bootstrap
    with pytest.raises(ValueError, match='integer'): pairwise_mi(torch.rand(2, 3, 4))
    with pytest.raises(ValueError, match='non-negative'): pairwise_mi(-torch.ones(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match='cannot estimate'): gaussian_total_correlation(torch.randn(1, 4, 8, 10))
    with pytest.raises(ValueError, match='at least 2 clips'): bootstrap(torch.zeros(1, 2, 5, dtype=torch.long), lambda c: 0.0)
    codes = torch.randint(0, 2048, (4, 4, 50), generator=torch.Generator().manual_seed(0))
    with pytest.warns(UserWarning, match='undersampled'): out = total_correlation(codes)
    assert out['coverage'] > 0.9

def test_training_configs_written_before_the_clip_product_keep_the_frame_shuffle():
    from mmd_music.train import CodecTrainConfig, train_config
    new = train_config('cpu', mmd_bandwidths=(0.5, 1.0, 2.0))
    assert (new.mmd.product, new.mmd.estimator, new.mmd.kernel, new.mmd.bandwidths) == ('clips', 'dhsic', 'gaussian_scaled', (0.5, 1.0, 2.0))
    assert CodecTrainConfig.from_dict(new.to_dict()) == new
    flat = {k: v for k, v in new.to_dict().items() if k != 'mmd'} | {f'mmd_{k}': v for k, v in new.mmd.to_dict().items()}
    old = {k: v for k, v in flat.items() if k not in ('mmd_product', 'mmd_bandwidths')}
    old.update(mmd_kernel='gaussian_code', mmd_estimator='unbiased')
    assert CodecTrainConfig.from_dict(old).mmd.product == 'frames'

def test_the_shipped_recipe_written_with_flat_mmd_fields_loads_into_the_nested_config():
    import json
    from mmd_music.checkpoint import shipped_checkpoint
    from mmd_music.train import CodecTrainConfig
    raw = json.loads((shipped_checkpoint('base') / 'train_config.json').read_text())
    assert 'mmd_weight' in raw and 'mmd' not in raw                  # written before MMDConfig
    cfg = CodecTrainConfig.from_dict(raw)
    assert (cfg.mmd.weight, cfg.mmd.product, cfg.mmd.streams) == (raw['mmd_weight'], raw['mmd_product'], raw['mmd_streams'])
    assert CodecTrainConfig.from_dict(cfg.to_dict()) == cfg

@pytest.mark.parametrize('B,K,estimator', [(3, 3, 'unbiased'), (4, 4, 'unbiased'), (4, 8, 'unbiased'), (2, 2, 'linear'), (5, 3, 'linear'), (3, 4, 'biased')])
def test_clip_product_estimates_refuse_too_few_clips_instead_of_dividing_by_zero(B, K, estimator):
    with pytest.raises(ValueError, match='clip-product estimate needs at least'):
        independence_mmd2(torch.randn(B, 10, K, 2), estimator=estimator)
    assert math.isfinite(float(independence_mmd2(torch.randn(B, 10, K, 2))))      # dHSIC needs only 2 clips

def test_dhsic_is_zero_on_average_when_every_codebook_shifts_with_the_position_in_the_clip():
    # independent codebooks, frames at position 0 centred at +2 and at position 1 at -2 in every codebook (an edge effect)
    vals = torch.tensor([float(independence_mmd2(torch.randn(64, 2, 3, 2, generator=torch.Generator().manual_seed(s))
                                                 + torch.tensor([2., -2.])[None, :, None, None], standardise=False, kernel='gaussian_code',
                                                 bandwidths=(1., 2.))) for s in range(30)])
    assert abs(float(vals.mean())) < 3 * float(vals.std()) / math.sqrt(30), vals
